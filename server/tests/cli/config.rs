//! `shoal serve --config FILE`, its flags and `--print-config`, run as the real binary; and a
//! server started from a config file.

use shoal_server::config::{self, ConfigFile, ServeArgs};

use crate::harness::{run, TestServer};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir")
}

#[test]
fn print_config_merges_file_and_flags_and_loads_again() {
    let dir = tempdir();
    let file = write(
        &dir,
        "shoal.toml",
        "cores = 3\nsegment_bytes = 1048576\ndefault_retention_hours = 48\n[shard_limits]\nread_calls_per_second = 9\n",
    );
    let printed = run(
        &[
            "serve",
            "--config",
            &file,
            "--cores",
            "1",
            "--cpuset",
            "1,0",
            "--sync-interval-ms",
            "25",
            "--metrics",
            "127.0.0.1:9100",
            "--print-config",
        ],
        b"",
    )
    .ok()
    .stdout();
    let c =
        ConfigFile::parse(&printed, "printed").and_then(|f| f.resolve()).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(c.engine.cores, 1, "the flag overrides the file");
    assert_eq!(c.engine.cpuset, [1, 0]);
    assert_eq!(c.engine.log.segment_bytes, 1 << 20, "the file's value");
    assert_eq!(c.engine.default_retention_hours, 48);
    assert_eq!(c.engine.default_shard_limits.read_calls_per_second, 9);
    assert_eq!(c.engine.default_shard_limits.write_records_per_second, 1000, "the default");
    assert_eq!(c.engine.log.sync_policy, shoal_engine::SyncPolicy::Interval { interval_ms: 25 });
    assert_eq!(c.metrics, Some("127.0.0.1:9100".parse().expect("addr")));

    // The printed file is a config file that prints the same again.
    let again = write(&dir, "printed.toml", &printed);
    assert_eq!(run(&["serve", "--config", &again, "--print-config"], b"").ok().stdout(), printed);
}

#[test]
fn without_a_file_print_config_shows_the_defaults() {
    let printed = run(&["serve", "--print-config"], b"").ok().stdout();
    assert_eq!(printed, config::print(&shoal_server::ServerConfig::default()).expect("prints"));
    assert!(printed.contains("segment_bytes = 134217728\n"), "{printed}");
    assert!(printed.contains("durability = \"synced\"\n"), "{printed}");
}

#[test]
fn bad_config_exits_2_naming_the_key() {
    let dir = tempdir();
    for (text, flags, message) in [
        ("segment_bytes = 1000\n", &[][..], "invalid config: segment_bytes = 1000: must be a multiple of 4096 within"),
        ("segmnt_bytes = 4096\n", &[][..], "unknown field `segmnt_bytes`"),
        ("", &["--default-retention-hours", "9000"][..], "default_retention_hours = 9000: must be within 24..=8760"),
        ("", &["--durability", "written"][..], "durability = \"written\" needs sync_interval_ms"),
        ("[shard_limits]\nread_calls_per_second = 0\n", &[][..], "shard_limits.read_calls_per_second = 0"),
    ] {
        let file = write(&dir, "bad.toml", text);
        let mut args = vec!["serve", "--config", file.as_str()];
        args.extend(flags);
        args.push("--print-config");
        let outcome = run(&args, b"");
        assert_eq!(outcome.code, 2, "{text:?} {flags:?}: {outcome:?}");
        assert!(outcome.stderr.contains(message), "{text:?} {flags:?}: {outcome:?}");
        assert!(outcome.stdout.is_empty(), "{outcome:?}");
    }
    let missing = run(&["serve", "--config", "/nonexistent/shoal.toml"], b"");
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("cannot read config file /nonexistent/shoal.toml"), "{missing:?}");
}

#[test]
fn serve_help_shows_the_defaults() {
    let help = run(&["serve", "--help"], b"").ok().stdout();
    for default in [
        "[default: ./shoal-data]",
        "[default: 127.0.0.1:7070]",
        "[default: 134217728]",
        "[default: kinesis]",
        "[default: synced]",
        "[default: 24]",
        "RISKY",
    ] {
        assert!(help.contains(default), "{default}: {help}");
    }
}

/// A server started from a config file creates streams with the file's default retention.
#[test]
fn streams_take_the_configured_default_retention() {
    let dir = tempdir();
    let data = dir.path().join("data");
    let text = format!(
        "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\ncores = 2\ndefault_retention_hours = 72\n",
        data.display().to_string()
    );
    let file = write(&dir, "shoal.toml", &text);
    let args = ServeArgs { config: Some(file.into()), ..ServeArgs::default() };
    let from_file = config::from_args(&args).expect("valid");
    assert_eq!(from_file.engine.data_dir, data);
    let server = TestServer::start_with(|c| *c = from_file);
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("retention   72 hours"), "{describe}");
}
