"""ClusterConfig: one connection object, validated, secrets kept out of repr."""

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig


def test_client_configs_carry_security_settings():
    config = ClusterConfig(
        bootstrap="k1:9092,k2:9092", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="medic", sasl_password="s3cret", ssl_cafile="/etc/ca.pem",
    )
    assert config.kafka_python()["bootstrap_servers"] == ["k1:9092", "k2:9092"]
    assert config.kafka_python()["sasl_plain_password"] == "s3cret"
    assert config.confluent()["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config.confluent()["ssl.ca.location"] == "/etc/ca.pem"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bootstrap": "k1"}, "bootstrap server 'k1' is not host:port"),
        ({"bootstrap": "k1:99999"}, "'k1:99999' is not host:port"),
        ({"bootstrap": ""}, "bootstrap servers are empty"),
        ({"bootstrap": "k1:9092", "security_protocol": "TLS"}, "security_protocol 'TLS' is not one of"),
        ({"bootstrap": "k1:9092", "security_protocol": "SASL_SSL"}, "needs a sasl_mechanism"),
        ({"bootstrap": "k1:9092", "sasl_mechanism": "MD5"}, "sasl_mechanism 'MD5' is not one of"),
        ({"bootstrap": "k1:9092", "bootstrp": "x"}, "unknown cluster setting(s) bootstrp"),
        ({"zookeeper": "z:2181"}, "'bootstrap' is missing"),
    ],
)
def test_bad_settings_name_the_bad_value(settings, message):
    with pytest.raises(MedicError) as err:
        ClusterConfig.from_dict(settings)
    assert message in str(err.value)


def test_credentials_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_MEDIC_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_MEDIC_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_MEDIC_SASL_PASSWORD", "pw")
    config = ClusterConfig.from_env("k1:9092", name="prod")
    assert config.name == "prod" and config.confluent()["sasl.password"] == "pw"
