CREATE TABLE schema_versions (
	part VARCHAR(64) NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (part)
);
CREATE TABLE clusters (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	kafka_cluster_id VARCHAR(255), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_clusters_name_kafka_cluster_id UNIQUE (name, kafka_cluster_id)
);
CREATE TABLE broker_samples (
	cluster_id INTEGER NOT NULL, 
	ts DOUBLE NOT NULL, 
	broker INTEGER NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	alive BOOLEAN NOT NULL, 
	bytes_in DOUBLE, 
	bytes_out DOUBLE, 
	replication_bytes_in DOUBLE, 
	replication_bytes_out DOUBLE, 
	produce_requests DOUBLE, 
	fetch_requests DOUBLE, 
	request_handler_idle DOUBLE, 
	cpu DOUBLE, 
	PRIMARY KEY (cluster_id, ts, broker, source), 
	FOREIGN KEY(cluster_id) REFERENCES clusters (id)
);
CREATE TABLE partition_samples (
	cluster_id INTEGER NOT NULL, 
	ts DOUBLE NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	broker INTEGER NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	leader BOOLEAN NOT NULL, 
	reassigning BOOLEAN NOT NULL, 
	size DOUBLE, 
	bytes_in DOUBLE, 
	bytes_out DOUBLE, 
	messages_in DOUBLE, 
	PRIMARY KEY (cluster_id, ts, topic, partition, broker, source), 
	FOREIGN KEY(cluster_id) REFERENCES clusters (id)
);
CREATE TABLE partition_windows (
	cluster_id INTEGER NOT NULL, 
	start DOUBLE NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	samples INTEGER NOT NULL, 
	bytes_in_sum DOUBLE, 
	bytes_out_sum DOUBLE, 
	bytes_out_samples INTEGER NOT NULL, 
	messages_in_sum DOUBLE, 
	messages_in_samples INTEGER NOT NULL, 
	leader_samples INTEGER NOT NULL, 
	unrated_samples INTEGER NOT NULL, 
	PRIMARY KEY (cluster_id, start, topic, partition), 
	FOREIGN KEY(cluster_id) REFERENCES clusters (id)
);
CREATE TABLE partition_samples_kept (
	cluster_id INTEGER NOT NULL, 
	ts DOUBLE NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	broker INTEGER NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	leader BOOLEAN NOT NULL, 
	reassigning BOOLEAN NOT NULL, 
	size DOUBLE, 
	bytes_in DOUBLE, 
	bytes_out DOUBLE, 
	messages_in DOUBLE, 
	PRIMARY KEY (cluster_id, ts, topic, partition, broker, source), 
	FOREIGN KEY(cluster_id) REFERENCES clusters (id)
);
CREATE TABLE aggregation_progress (
	cluster_id INTEGER NOT NULL, 
	window_s DOUBLE NOT NULL, 
	since DOUBLE NOT NULL, 
	until DOUBLE NOT NULL, 
	PRIMARY KEY (cluster_id), 
	FOREIGN KEY(cluster_id) REFERENCES clusters (id)
);
CREATE TABLE executor_executions (
	id VARCHAR(64) NOT NULL, 
	cluster VARCHAR(255) NOT NULL, 
	proposal_hash VARCHAR(64) NOT NULL, 
	proposal TEXT NOT NULL, 
	options TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	phase VARCHAR(32) NOT NULL, 
	message TEXT, 
	started_at DOUBLE NOT NULL, 
	finished_at DOUBLE, 
	owner_host VARCHAR(255), 
	owner_pid INTEGER, 
	heartbeat DOUBLE, 
	stop_requested BOOLEAN NOT NULL, 
	batches INTEGER NOT NULL, 
	report TEXT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_executor_executions_cluster ON executor_executions (cluster);
CREATE TABLE executor_locks (
	cluster VARCHAR(255) NOT NULL, 
	execution_id VARCHAR(64) NOT NULL, 
	PRIMARY KEY (cluster)
);
CREATE TABLE executor_tasks (
	execution_id VARCHAR(64) NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	task TEXT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	reason TEXT, 
	batch INTEGER, 
	submissions INTEGER NOT NULL, 
	submitted_at DOUBLE, 
	finished_at DOUBLE, 
	PRIMARY KEY (execution_id, topic, partition), 
	FOREIGN KEY(execution_id) REFERENCES executor_executions (id)
);
CREATE TABLE executor_throttles (
	execution_id VARCHAR(64) NOT NULL, 
	resource VARCHAR(8) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	config VARCHAR(64) NOT NULL, 
	original TEXT, 
	applied TEXT, 
	cleared BOOLEAN NOT NULL, 
	PRIMARY KEY (execution_id, resource, name, config), 
	FOREIGN KEY(execution_id) REFERENCES executor_executions (id)
);
CREATE TABLE notify_actions (
	id INTEGER NOT NULL, 
	cluster VARCHAR(255) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	why TEXT NOT NULL, 
	approved_by VARCHAR(255) NOT NULL, 
	moves_planned INTEGER NOT NULL, 
	moves_done INTEGER NOT NULL, 
	bytes_moved BIGINT NOT NULL, 
	outcome VARCHAR(32) NOT NULL, 
	started_at DOUBLE NOT NULL, 
	finished_at DOUBLE NOT NULL, 
	message TEXT NOT NULL, 
	run VARCHAR(512) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_notify_actions_cluster ON notify_actions (cluster);
CREATE TABLE detector_anomalies (
	id INTEGER NOT NULL, 
	cluster VARCHAR(255) NOT NULL, 
	"key" VARCHAR(512) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	summary TEXT NOT NULL, 
	details TEXT NOT NULL, 
	brokers TEXT NOT NULL, 
	first_seen DOUBLE NOT NULL, 
	last_seen DOUBLE NOT NULL, 
	resolved_at DOUBLE, 
	alerted_at DOUBLE, 
	acted_at DOUBLE, 
	PRIMARY KEY (id)
);
CREATE INDEX detector_anomalies_open ON detector_anomalies (cluster, resolved_at, "key");
CREATE TABLE detector_status (
	id INTEGER NOT NULL, 
	cluster VARCHAR(255) NOT NULL, 
	at DOUBLE NOT NULL, 
	latest BOOLEAN NOT NULL, 
	brokers_alive INTEGER NOT NULL, 
	brokers_dead INTEGER NOT NULL, 
	under_replicated INTEGER NOT NULL, 
	offline INTEGER NOT NULL, 
	balancedness DOUBLE NOT NULL, 
	disk_max_pct DOUBLE NOT NULL, 
	disk_mean_pct DOUBLE NOT NULL, 
	nw_in_max_pct DOUBLE NOT NULL, 
	nw_in_mean_pct DOUBLE NOT NULL, 
	nw_out_max_pct DOUBLE NOT NULL, 
	nw_out_mean_pct DOUBLE NOT NULL, 
	cpu_max_pct DOUBLE NOT NULL, 
	cpu_mean_pct DOUBLE NOT NULL, 
	windows INTEGER NOT NULL, 
	valid_windows INTEGER NOT NULL, 
	valid_partition_ratio DOUBLE NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX detector_status_latest ON detector_status (latest, cluster);
CREATE INDEX detector_status_history ON detector_status (cluster, at);
CREATE TABLE detector_model_snapshot (
	cluster VARCHAR(255) NOT NULL, 
	at DOUBLE NOT NULL, 
	arrays BLOB NOT NULL, 
	PRIMARY KEY (cluster)
);
CREATE TABLE broker_intents (
	cluster VARCHAR(255) NOT NULL, 
	broker INTEGER NOT NULL, 
	intent VARCHAR(32) NOT NULL, 
	since DOUBLE NOT NULL, 
	until DOUBLE, 
	"by" TEXT NOT NULL, 
	PRIMARY KEY (cluster, broker)
);
CREATE TABLE cluster_maintenance (
	cluster VARCHAR(255) NOT NULL, 
	since DOUBLE NOT NULL, 
	reason TEXT NOT NULL, 
	"by" TEXT NOT NULL, 
	PRIMARY KEY (cluster)
);
