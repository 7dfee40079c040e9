"""Units shared by the model, the metrics, the executor and the CLI.

MB is 2^20 bytes everywhere in kafka-medic: the cluster model's disk load and capacity in MB, the load
model's sizes, and the CLI's and the trigger form's throttles in MB/s all mean mebibytes. KB is 2^10
bytes: network load and capacity are in KB/s, as in Cruise Control.
"""

KB = 2**10
MB = 2**20
