"""Units shared by the model, the metrics, the executor and the CLI.

MB is 2^20 bytes everywhere in kafka-medic: the cluster model's disk load and capacity in MB, the load
model's sizes, and the CLI's and the trigger form's throttles in MB/s all mean mebibytes.
"""

MB = 2**20
