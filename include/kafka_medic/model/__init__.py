"""The cluster model, its JSON files (cluster model and proposal) and its numpy view."""

from kafka_medic.model.arrays import ClusterArrays
from kafka_medic.model.cluster import RESOURCES, Broker, ClusterModel, ModelError, Partition
from kafka_medic.model.files import MODEL_FORMAT, load_model, model_to_dict, parse_model, save_model
from kafka_medic.model.proposal import (
    PROPOSAL_FORMAT,
    Move,
    Proposal,
    apply_proposal,
    load_proposal,
    parse_proposal,
    proposal_to_dict,
    save_proposal,
)

__all__ = [
    "MODEL_FORMAT",
    "PROPOSAL_FORMAT",
    "RESOURCES",
    "Broker",
    "ClusterArrays",
    "ClusterModel",
    "ModelError",
    "Move",
    "Partition",
    "Proposal",
    "apply_proposal",
    "load_model",
    "load_proposal",
    "model_to_dict",
    "parse_model",
    "parse_proposal",
    "proposal_to_dict",
    "save_model",
    "save_proposal",
]
