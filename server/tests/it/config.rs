//! `shoal serve`'s configuration: the file, flags over it, defaults under both, the bounds
//! (each error names the key, the value and what is allowed), and `--print-config`.

use shoal_engine::{ShardLimits, SyncPolicy};
use shoal_server::config::{self, ConfigError, ConfigFile, Durability, LimitsPreset, ServeArgs};
use shoal_server::ServerConfig;

fn resolve(text: &str) -> Result<ServerConfig, ConfigError> {
    ConfigFile::parse(text, "test.toml")?.resolve()
}

fn with_flags(text: &str, args: &ServeArgs) -> Result<ServerConfig, ConfigError> {
    let mut file = ConfigFile::parse(text, "test.toml")?;
    file.override_with(args);
    file.resolve()
}

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse().expect("addr")
}

#[track_caller]
fn error(text: &str) -> String {
    resolve(text).expect_err("refused").to_string()
}

/// Two configurations are the same if they print the same file.
#[track_caller]
fn assert_same(a: &ServerConfig, b: &ServerConfig) {
    assert_eq!(ConfigFile::effective(a), ConfigFile::effective(b));
}

#[test]
fn no_file_and_no_flags_is_the_defaults() {
    let c = config::from_args(&ServeArgs::default()).expect("defaults are valid");
    assert_same(&c, &ServerConfig::default());
    assert_same(&resolve("").expect("empty file"), &ServerConfig::default());
    assert_eq!(c.engine.log.sync_policy, SyncPolicy::Always);
    assert_eq!(c.engine.default_shard_limits, ShardLimits::KINESIS);
    assert_eq!(c.metrics, None);
}

#[test]
fn a_file_sets_every_key() {
    let c = resolve(
        r#"
        data_dir = "/srv/shoal"
        listen = "0.0.0.0:7171"
        metrics = "127.0.0.1:9100"
        cores = 3
        cpuset = [2, 0, 1]
        segment_bytes = 1048576
        inline_commit_bytes = 0
        tail_cache_bytes = 0
        durability = "written"
        sync_interval_ms = 50
        default_retention_hours = 168

        [shard_limits]
        preset = "unlimited"
        read_calls_per_second = 10

        [subscription]
        lifetime_ms = 60000
        bytes_per_second = 1000
        heartbeat_ms = 500
        "#,
    )
    .expect("valid");
    assert_eq!(c.engine.data_dir, std::path::PathBuf::from("/srv/shoal"));
    assert_eq!(c.listen, addr("0.0.0.0:7171"));
    assert_eq!(c.metrics, Some(addr("127.0.0.1:9100")));
    assert_eq!(c.engine.cores, 3);
    assert_eq!(c.engine.cpuset, [2, 0, 1]);
    assert_eq!(c.engine.log.segment_bytes, 1 << 20);
    assert_eq!(c.engine.log.inline_commit_bytes_max, 0);
    assert_eq!(c.engine.tail_cache_bytes, 0);
    assert_eq!(c.engine.log.sync_policy, SyncPolicy::Interval { interval_ms: 50 });
    assert_eq!(c.engine.default_retention_hours, 168);
    assert_eq!(c.engine.default_shard_limits, ShardLimits { read_calls_per_second: 10, ..ShardLimits::UNLIMITED });
    assert_eq!(c.engine.subscription.lifetime_ms, 60_000);
    assert_eq!(c.engine.subscription.bytes_per_second, 1000);
    assert_eq!(c.engine.subscription.heartbeat_ms, 500);
}

#[test]
fn keys_left_out_keep_their_defaults() {
    let c = resolve("cores = 2\n[shard_limits]\nwrite_records_per_second = 10\n").expect("valid");
    let mut expected = ServerConfig::default();
    expected.engine.cores = 2;
    expected.engine.default_shard_limits.write_records_per_second = 10;
    assert_same(&c, &expected);
}

#[test]
fn flags_that_are_given_override_the_file() {
    let file =
        "cores = 3\nsegment_bytes = 1048576\ndefault_retention_hours = 48\n[shard_limits]\nread_calls_per_second = 7\n";
    let args = ServeArgs {
        cores: Some(1),
        cpuset: Some(vec![1]),
        metrics: Some("127.0.0.1:9200".parse().expect("addr")),
        default_retention_hours: Some(72),
        shard_limits: Some(LimitsPreset::Unlimited),
        inline_commit_bytes: Some(4096),
        ..ServeArgs::default()
    };
    let c = with_flags(file, &args).expect("valid");
    assert_eq!(c.engine.cores, 1);
    assert_eq!(c.engine.cpuset, [1]);
    assert_eq!(c.engine.log.segment_bytes, 1 << 20, "not given as a flag: the file's");
    assert_eq!(c.engine.default_retention_hours, 72);
    assert_eq!(c.engine.log.inline_commit_bytes_max, 4096);
    assert_eq!(c.metrics, Some(addr("127.0.0.1:9200")));
    assert_eq!(c.engine.default_shard_limits, ShardLimits::UNLIMITED, "--shard-limits replaces the table");
}

#[test]
fn durability_flags_and_keys() {
    let interval = |ms| ServeArgs { sync_interval_ms: Some(ms), ..ServeArgs::default() };
    let c = with_flags("", &interval(20)).expect("valid");
    assert_eq!(
        c.engine.log.sync_policy,
        SyncPolicy::Interval { interval_ms: 20 },
        "--sync-interval-ms implies written"
    );

    let file = "durability = \"written\"\nsync_interval_ms = 100\n";
    let synced = ServeArgs { durability: Some(Durability::Synced), ..ServeArgs::default() };
    assert_eq!(with_flags(file, &synced).expect("valid").engine.log.sync_policy, SyncPolicy::Always);
    assert_eq!(
        with_flags(file, &interval(5)).expect("valid").engine.log.sync_policy,
        SyncPolicy::Interval { interval_ms: 5 }
    );

    let e = error("durability = \"written\"\n");
    assert!(e.contains("durability = \"written\" needs sync_interval_ms") && e.contains("1..=60000"), "{e}");
    let e = error("sync_interval_ms = 100\n");
    assert!(e.contains("sync_interval_ms = 100 applies only with durability = \"written\""), "{e}");
}

#[test]
fn each_bad_value_is_named_with_its_value_and_bounds() {
    let cases = [
        ("segment_bytes = 1000", "invalid config: segment_bytes = 1000: must be a multiple of 4096 within 65536..=4294967296"),
        ("segment_bytes = 69633", "invalid config: segment_bytes = 69633: must be a multiple of 4096 within"),
        ("segment_bytes = 8589934592", "invalid config: segment_bytes = 8589934592: must be a multiple of 4096 within"),
        ("cores = 5000", "invalid config: cores = 5000: must be within 0..=1024"),
        ("inline_commit_bytes = 1048577", "invalid config: inline_commit_bytes = 1048577: must be within 0..=1048576"),
        ("cpuset = [0, 0]", "invalid config: cpuset = 0,0: must be a list of distinct CPU numbers"),
        ("cores = 2\ncpuset = [1]", "invalid config: cores = 2: must be at most the 1 CPUs of cpuset 1"),
        ("durability = \"written\"\nsync_interval_ms = 0", "invalid config: sync_interval_ms = 0: must be within 1..=60000"),
        ("durability = \"written\"\nsync_interval_ms = 60001", "invalid config: sync_interval_ms = 60001: must be within 1..=60000"),
        ("default_retention_hours = 23", "invalid config: default_retention_hours = 23: must be within 24..=8760"),
        ("default_retention_hours = 8761", "invalid config: default_retention_hours = 8761: must be within 24..=8760"),
        (
            "[shard_limits]\nwrite_bytes_per_second = 0",
            "invalid config: shard_limits.write_bytes_per_second = 0: must be within 1..=4294967295 (4294967295 = unlimited)",
        ),
        ("[shard_limits]\nwrite_records_per_second = 0", "invalid config: shard_limits.write_records_per_second = 0"),
        ("[shard_limits]\nread_bytes_per_second = 0", "invalid config: shard_limits.read_bytes_per_second = 0"),
        ("[shard_limits]\nread_calls_per_second = 0", "invalid config: shard_limits.read_calls_per_second = 0"),
        ("[subscription]\nlifetime_ms = 99", "invalid config: subscription.lifetime_ms = 99: must be within 100..=3600000"),
        ("[subscription]\nbytes_per_second = 0", "invalid config: subscription.bytes_per_second = 0: must be within 1..="),
        ("[subscription]\nheartbeat_ms = 60001", "invalid config: subscription.heartbeat_ms = 60001: must be within 10..=60000"),
        (
            "listen = \"127.0.0.1:7070\"\nmetrics = \"127.0.0.1:7070\"",
            "invalid config: metrics = 127.0.0.1:7070: must be another address than listen",
        ),
    ];
    for (text, expected) in cases {
        let e = error(text);
        assert!(e.starts_with(expected), "{text:?}: {e}");
    }
}

#[test]
fn values_of_the_wrong_type_name_their_line() {
    for (text, key, why) in [
        ("cores = -1", "cores = -1", "expected usize"),
        ("listen = \"localhost\"", "listen = \"localhost\"", "invalid socket address"),
        ("durability = \"sometimes\"", "durability = \"sometimes\"", "unknown variant `sometimes`"),
        ("[shard_limits]\npreset = \"fast\"", "preset = \"fast\"", "unknown variant `fast`"),
        ("default_retention_hours = 99999999999", "default_retention_hours", "expected u32"),
    ] {
        let e = error(text);
        assert!(e.starts_with("invalid config file test.toml:"), "{text:?}: {e}");
        assert!(e.contains(key) && e.contains(why), "{text:?}: {e}");
    }
}

#[test]
fn unknown_keys_are_refused_by_name() {
    for (text, key) in [
        ("segmnt_bytes = 4096", "segmnt_bytes"),
        ("[shard_limits]\nwrite_bytes = 5", "write_bytes"),
        ("[subscription]\nlifetime = 5", "lifetime"),
        ("[limits]\nx = 1", "limits"),
    ] {
        let e = error(text);
        assert!(e.contains(&format!("unknown field `{key}`")), "{text:?}: {e}");
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let args = ServeArgs { config: Some("/nonexistent/shoal.toml".into()), ..ServeArgs::default() };
    let e = config::from_args(&args).expect_err("no such file").to_string();
    assert!(e.starts_with("cannot read config file /nonexistent/shoal.toml"), "{e}");
}

#[test]
fn printed_config_loads_to_the_same_config() {
    let mut custom =
        ServerConfig { listen: addr("0.0.0.0:0"), metrics: Some(addr("127.0.0.1:9100")), ..ServerConfig::default() };
    custom.engine.cores = 2;
    custom.engine.cpuset = vec![1, 0];
    custom.engine.log.sync_policy = SyncPolicy::Interval { interval_ms: 7 };
    custom.engine.default_retention_hours = 100;
    custom.engine.default_shard_limits = ShardLimits { write_records_per_second: 3, ..ShardLimits::UNLIMITED };
    custom.engine.subscription.heartbeat_ms = 20;
    let mut unlimited = ServerConfig::default();
    unlimited.engine.default_shard_limits = ShardLimits::UNLIMITED;
    for c in [ServerConfig::default(), custom, unlimited] {
        let printed = config::print(&c).expect("prints");
        let again = resolve(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_same(&again, &c);
        assert_eq!(config::print(&again).expect("prints"), printed);
    }
}

/// README.md's Configuration section shows `shoal.toml`, which must list every key with its
/// default: it loads to the defaults, and every key `--print-config` can print is in it
/// (those off by default as comments).
#[test]
fn the_example_file_lists_every_key_with_its_default() {
    let example = include_str!("../../../shoal.toml");
    assert_same(&resolve(example).expect("shoal.toml loads"), &ServerConfig::default());
    let readme = include_str!("../../../README.md");
    let block = readme
        .split_once("## Configuration")
        .and_then(|(_, rest)| rest.split_once("```toml\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README.md has a toml block under ## Configuration");
    assert_eq!(block, example, "README.md's example and shoal.toml differ");

    let mut all = ServerConfig { metrics: Some(addr("127.0.0.1:9100")), ..ServerConfig::default() };
    all.engine.log.sync_policy = SyncPolicy::Interval { interval_ms: 1 };
    all.engine.cpuset = vec![0];
    let printed = config::print(&all).expect("prints");
    let keys = printed.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once(" = ")).map(|(k, _)| k);
    for key in keys {
        let listed =
            example.lines().any(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} = ")));
        assert!(listed, "shoal.toml does not list `{key}`");
    }
}
