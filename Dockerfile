# kafka-medic's images for docker-compose.yml (and a Kubernetes deployment: docs/kubernetes.md).
#   target `airflow`: Airflow 3.3.2 with kafka-medic, its DAGs and plugin, every Python package at the
#                     version uv.lock pins (the versions the tests ran against);
#   target `kafka`:   Kafka 4.4 (KRaft) with the Prometheus JMX exporter agent and kafka-medic's rules.
# Every base image is pinned; tests/unit/test_compose.py checks the versions against the code's.

FROM apache/airflow:3.3.2-python3.11 AS airflow
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/kafka-medic/
COPY --chown=airflow:root include /opt/kafka-medic/include
# uv.lock -> a requirements file with exact versions; the project itself without dependencies after it.
RUN pip install --no-cache-dir uv==0.13.9 \
 && cd /opt/kafka-medic \
 && uv export --frozen --no-dev --no-emit-project --no-hashes --output-file requirements.txt \
 && pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps . \
 && python -c "from kafka_medic.devcluster.configs import JMX_EXPORTER_YAML as y; open('jmx-exporter.yml', 'w').write(y)"
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins

# The JMX exporter agent from Maven Central, as the dev cluster fetches it (devcluster/artifacts.py).
FROM maven:3.9.9-eclipse-temurin-17 AS jmx-exporter
RUN mvn -q -B dependency:copy -Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:1.0.1 -DoutputDirectory=/jmx \
 && mv /jmx/jmx_prometheus_javaagent-1.0.1.jar /jmx/jmx_prometheus_javaagent.jar

FROM apache/kafka:4.4.0 AS kafka
COPY --from=jmx-exporter /jmx/jmx_prometheus_javaagent.jar /opt/jmx/jmx_prometheus_javaagent.jar
COPY --from=airflow /opt/kafka-medic/jmx-exporter.yml /opt/jmx/kafka.yml

FROM airflow
