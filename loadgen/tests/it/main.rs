//! The `shoal-loadgen` binary end to end: short runs of every profile against an embedded
//! server (and one against a server started here, over 127.0.0.1), their JSON and HTML
//! output, and injected faults; `readers` drives the readers through the library. Behaviour
//! only: no timing is asserted.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod readers;
mod stall;

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shoal-loadgen")).args(args).output().expect("run shoal-loadgen")
}

/// Runs with `--json --quiet`, asserts the exit status, and returns the parsed report.
fn run_json(args: &[&str], status: i32) -> Value {
    run_json_with_progress(&[&["--quiet"], args].concat(), status).0
}

/// Runs with `--json`, asserts the exit status, and returns the parsed report and stderr (the
/// progress lines unless `--quiet`).
fn run_json_with_progress(args: &[&str], status: i32) -> (Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = loadgen(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(status), "args {args:?}\nstderr:\n{stderr}\nstdout:\n{stdout}");
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    (report, stderr)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn assert_passed_and_verified(report: &Value) {
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["exit_code"], 0);
    let v = &report["verification"];
    assert_eq!(v["passed"], true, "{v:#}");
    let accepted = u(&report["totals"]["counts"]["accepted"]);
    assert!(accepted > 0, "nothing was accepted");
    assert_eq!(u(&v["acknowledged"]), accepted);
    let w = &report["workload"];
    let readers = u(&w["polled_consumers_per_shard"]) + u(&w["fanout_consumers_per_shard"]);
    assert_eq!(u(&v["deliveries_verified"]), accepted * readers);
}

#[test]
fn the_default_profile_passes_and_its_json_has_the_documented_shape() {
    let r = run_json(&["--duration", "2s", "--seed", "7"], 0);
    assert_passed_and_verified(&r);
    for key in [
        "schema",
        "profile",
        "passed",
        "exit_code",
        "failure_reasons",
        "started_at_unix_ms",
        "elapsed_seconds",
        "seed",
        "run_id",
        "target",
        "stream",
        "workload",
        "steps",
        "totals",
        "per_second",
        "per_shard",
        "verification",
        "max",
        "errors",
        "durability",
    ] {
        assert!(r.get(key).is_some(), "missing top-level field {key}");
    }
    assert_eq!(r["schema"], "shoal-loadgen/2");
    assert_eq!(r["profile"], "default");
    assert_eq!(r["seed"], 7);
    assert_eq!(r["target"]["mode"], "embedded");
    assert_eq!(r["stream"]["shards"], 4);
    assert_eq!(r["stream"]["limits"]["write_records_per_second"], 1000);
    assert_eq!(r["workload"]["throttled_records_retried"], false);
    assert_eq!(r["durability"], "synced");
    assert!(r["max"].is_null());
    assert_eq!(r["max_records_reached"], false);
    assert_eq!(u(&r["workload"]["max_records"]), 1_000_000);
    let step = &r["steps"][0];
    for key in [
        "index",
        "name",
        "target_records_per_second",
        "target_mb_per_second",
        "duration_seconds",
        "requests_scheduled",
        "requests_unsent",
        "counts",
        "accepted_records_per_second",
        "accepted_mb_per_second",
        "throttle_share",
        "put_ack_latency_ms",
        "put_to_read_latency_ms",
        "put_to_push_latency_ms",
        "generator_delay_ms",
        "warmup",
        "sustained",
    ] {
        assert!(step.get(key).is_some(), "missing step field {key}");
    }
    for key in ["count", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "p99_99_ms", "max_ms", "mean_ms"] {
        assert!(step["put_ack_latency_ms"][key].is_number(), "missing latency field {key}");
    }
    for key in ["accepted", "throttled", "failed", "read_records", "pushed_records", "requests", "records_sent"] {
        assert!(step["counts"][key].is_u64(), "missing count {key}");
    }
    let second = &r["per_second"][0];
    for key in [
        "t",
        "window_seconds",
        "step",
        "target_records_per_second",
        "accepted_records",
        "throttled_records",
        "read_records",
        "pushed_records",
        "put_ack_latency_ms",
        "put_to_read_latency_ms",
        "put_to_push_latency_ms",
    ] {
        assert!(second.get(key).is_some(), "missing per-second field {key}");
    }
    let pushed: u64 = r["per_second"].as_array().expect("per_second").iter().map(|s| u(&s["pushed_records"])).sum();
    assert_eq!(pushed, 0, "no fan-out subscribers, nothing pushed");
    let shards = r["per_shard"].as_array().expect("per_shard");
    assert_eq!(shards.len(), 4);
    let per_shard_accepted: u64 = shards.iter().map(|s| u(&s["accepted"])).sum();
    assert_eq!(per_shard_accepted, u(&r["totals"]["counts"]["accepted"]));
}

#[test]
fn the_limits_profile_walks_its_four_steps() {
    let r = run_json(&["--profile", "limits", "--duration", "2s"], 0);
    assert_passed_and_verified(&r);
    let names: Vec<&str> =
        r["steps"].as_array().expect("steps").iter().map(|s| s["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["warm-up", "50%", "90%", "100%", "150%"]);
    assert_eq!(r["stream"]["shards"], 1);
    let targets: Vec<f64> = r["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["target_records_per_second"].as_f64().unwrap_or(0.0))
        .collect();
    assert_eq!(targets, [500.0, 500.0, 900.0, 1000.0, 1500.0]);
    assert_eq!(r["steps"][0]["warmup"], true);
    assert!(r["steps"].as_array().expect("steps")[1..].iter().all(|s| s["warmup"] == false));
}

#[test]
fn the_max_profile_ramps_after_a_warm_up() {
    let dir = tempfile::tempdir().expect("dir");
    let html = dir.path().join("max.html");
    let html_arg = html.to_str().expect("utf-8 path");
    let args =
        ["--profile", "max", "--duration", "6s", "--step-duration", "1s", "--rate", "5MB/s", "--report", html_arg];
    let r = run_json(&args, 0);
    assert_passed_and_verified(&r);
    let steps = r["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["name"], "warm-up");
    assert!(steps[0]["sustained"].is_null());
    assert!(steps.len() >= 2, "{steps:#?}");
    assert!(steps[1..].iter().all(|s| s["sustained"].is_boolean()));
    assert!(r["stream"]["limits"].is_null());
    assert_eq!(r["max"]["p99_target_ms"], 20.0);
    let html = std::fs::read_to_string(&html).expect("report written");
    assert!(html.contains(">Max profile: accepted throughput and put p99 per step</title>"));
    assert!(html.contains("class=\"marker\""), "no step markers drawn");
}

#[test]
fn max_records_bounds_the_schedule() {
    // 0.8x of one shard is 800 records/s: the 1 s warm-up alone would schedule 800.
    let r = run_json(&["--max-records", "200", "--duration", "5s", "--shards", "1"], 0);
    assert_passed_and_verified(&r);
    assert_eq!(r["max_records_reached"], true);
    assert_eq!(u(&r["workload"]["max_records"]), 200);
    assert_eq!(u(&r["totals"]["counts"]["records_sent"]), 200);
    let names: Vec<&str> =
        r["steps"].as_array().expect("steps").iter().map(|s| s["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["warm-up"], "the step after the bound did not run");
}

#[test]
fn faults_between_the_server_and_the_verifier_fail_the_run_with_their_diagnosis() {
    for (fault, kind) in
        [("lose", "lost"), ("duplicate", "duplicated"), ("reorder", "reordered"), ("corrupt", "corrupted")]
    {
        let r = run_json(&["--inject", fault, "--duration", "1s", "--shards", "1"], 1);
        assert_eq!(r["passed"], false);
        let counts = r["verification"]["failure_counts"].as_object().expect("failure counts");
        let kinds: Vec<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(kinds, [kind], "{fault}: exactly the injected kind is diagnosed: {counts:?}");
        let reasons = r["failure_reasons"].as_array().expect("reasons");
        assert!(reasons.iter().any(|m| m.as_str().unwrap_or("").contains(kind)), "{fault}: {reasons:?}");
    }
}

#[test]
fn the_fanout_profile_verifies_every_subscriber_and_reports_put_to_push_latency() {
    let dir = tempfile::tempdir().expect("dir");
    let html = dir.path().join("fanout.html");
    let html_arg = html.to_str().expect("utf-8 path");
    let (r, progress) = run_json_with_progress(&["--profile", "fanout", "--duration", "3s", "--report", html_arg], 0);
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(page.contains("Put → fan-out push latency by percentile (ms)"), "push chart drawn");
    assert!(page.contains("<h2>Put → fan-out push latency (ms)</h2>"), "push table written");
    for legend in ["polled reads", "pushed, per subscriber", "put→push p99"] {
        assert!(page.contains(&format!(">{legend}</text>")), "chart line {legend} drawn");
    }
    // The progress line shows polled reads and pushes apart, each with its current p99.
    let lines: Vec<&str> = progress.lines().filter(|l| l.contains("| accepted")).collect();
    assert!(!lines.is_empty(), "{progress}");
    assert!(lines.iter().all(|l| l.contains("| read ") && l.contains("| push ")), "{progress}");
    assert!(lines.iter().any(|l| l.split("| push ").nth(1).is_some_and(|p| p.contains(" ms"))), "{progress}");
    assert_passed_and_verified(&r);
    assert_eq!(r["profile"], "fanout");
    assert_eq!(u(&r["workload"]["fanout_consumers_per_shard"]), 20);
    assert_eq!(u(&r["verification"]["consumers"]), 21, "20 fan-out subscribers and 1 polled consumer");
    let acked = u(&r["verification"]["acknowledged"]);
    assert!(acked > 0);
    assert_eq!(u(&r["verification"]["deliveries_verified"]), 21 * acked);
    let push = &r["totals"]["put_to_push_latency_ms"];
    assert_eq!(u(&push["count"]), 20 * acked, "{push}");
    // Reads and pushes are counted apart, in the totals, per second and per shard.
    let counts = &r["totals"]["counts"];
    assert_eq!((u(&counts["read_records"]), u(&counts["pushed_records"])), (acked, 20 * acked), "{counts}");
    let seconds = r["per_second"].as_array().expect("per_second");
    let sum = |key: &str| seconds.iter().map(|s| u(&s[key])).sum::<u64>();
    assert_eq!((sum("read_records"), sum("pushed_records")), (acked, 20 * acked));
    assert!(seconds.iter().any(|s| s["put_to_push_latency_ms"]["p99_ms"].is_number()));
    assert_eq!(u(&r["per_shard"][0]["pushed_records"]), 20 * acked);
    assert!(push["p50_ms"].as_f64().is_some() && push["max_ms"].as_f64().is_some(), "{push}");
    assert!(r["totals"]["put_to_read_latency_ms"]["p50_ms"].as_f64().is_some());
}

#[test]
fn a_fault_in_a_fan_out_subscriber_fails_the_run() {
    let args = ["--inject", "corrupt", "--duration", "1s", "--shards", "1", "--polled-consumers", "0"];
    let r = run_json(&[&args[..], &["--fanout-consumers", "2"]].concat(), 1);
    assert_eq!(r["passed"], false);
    let counts = r["verification"]["failure_counts"].as_object().expect("failure counts");
    // Subscriber 0 of the one shard gets one damaged record. A push often beats the record's
    // acknowledgement to the verifier; the record is still reported once, as corrupted.
    assert_eq!(counts.get("corrupted").and_then(Value::as_u64), Some(1), "{counts:?}");
    assert_eq!(counts.len(), 1, "only the corruption is reported: {counts:?}");
    let failures = r["verification"]["failures"].as_array().expect("failures");
    assert!(failures.iter().any(|f| f["detail"].as_str().unwrap_or("").contains("fan-out")), "{failures:?}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["--rate", "fast"][..], &["--batch", "0"][..], &["--profile", "max", "--rate", "0.9x"][..]] {
        assert_eq!(loadgen(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_html_report_draws_its_charts() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("report.html");
    let path_arg = path.to_str().expect("utf-8 path");
    let out = loadgen(&["--duration", "1s", "--quiet", "--report", path_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("RESULT: PASSED") && stdout.contains("Put acknowledgement latency"), "{stdout}");
    let html = std::fs::read_to_string(&path).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("https://"), "nothing fetched");
    for title in [
        "Throughput and throttling over time (records/s)",
        "Put acknowledgement latency by percentile (ms)",
        "Put → polled read latency by percentile (ms)",
        "Latency over time, per second (ms)",
        "Records per shard: accepted and throttled",
    ] {
        assert!(html.contains(&format!(">{title}</title>")), "missing chart {title}");
    }
    assert!(html.matches("<svg").count() >= 5);
    assert!(html.contains("<polyline"), "no curves drawn");
    assert!(html.contains("class=\"bar\""), "no bars drawn");
}

#[test]
fn a_hot_key_throttles_its_shard_and_the_run_still_verifies() {
    let r = run_json(&["--hot-key-share", "1", "--rate", "0.9x", "--duration", "2s"], 0);
    assert_passed_and_verified(&r);
    let hot = r["workload"]["hot_shard"].as_u64().expect("hot shard");
    let shards = r["per_shard"].as_array().expect("per_shard");
    let hot_row = shards.iter().find(|s| s["shard"] == hot).expect("hot shard row");
    assert!(hot_row["hot"].as_bool().unwrap_or(false));
    assert!(u(&hot_row["throttled"]) > 0, "{hot_row}");
    assert!(shards.iter().filter(|s| s["shard"] != hot).all(|s| u(&s["accepted"]) == 0 && u(&s["throttled"]) == 0));
    assert_eq!(u(&r["verification"]["refused"]), u(&r["totals"]["counts"]["throttled"]));
}

#[test]
fn single_record_puts_pass() {
    let r = run_json(&["--single", "--rate", "500/s", "--duration", "1s", "--shards", "2"], 0);
    assert_passed_and_verified(&r);
    assert_eq!(r["workload"]["operation"], "PutRecord");
    assert_eq!(r["workload"]["batch_records"], 1);
}

fn start_server(dir: &Path) -> shoal_server::Server {
    let mut config = shoal_server::ServerConfig::new(dir, "127.0.0.1:0".parse().expect("addr"));
    config.engine.cores = 1;
    shoal_server::Server::start(config).expect("server")
}

#[test]
fn a_running_server_is_loaded_and_the_created_stream_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path());
    let addr = server.local_addr().to_string();
    let r = run_json(&["--addr", &addr, "--duration", "1s", "--shards", "2"], 0);
    assert_passed_and_verified(&r);
    assert_eq!(r["target"]["mode"], "remote");
    assert!(r["target"]["data_dir"].is_null());
    let client = shoal_protocol::client::BlockingClient::connect(&addr, Default::default()).expect("client");
    let streams = client.list_streams(shoal_protocol::ops::ListStreams::default()).expect("list");
    assert!(streams.stream_names.is_empty(), "{:?}", streams.stream_names);
    server.shutdown().expect("shutdown");
}

#[test]
fn an_existing_stream_is_read_from_latest_and_others_records_are_skipped() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start_server(dir.path());
    let addr = server.local_addr().to_string();
    let client = shoal_protocol::client::BlockingClient::connect(&addr, Default::default()).expect("client");
    client.create_stream(shoal_protocol::ops::CreateStream::new("existing", 2)).expect("create");
    let put = shoal_protocol::ops::PutRecord::new("existing", "someone", &b"not a loadgen record"[..]);
    client.put_record(put).expect("put");
    let r = run_json(&["--addr", &addr, "--stream", "existing", "--rate", "0.5x", "--duration", "1s"], 0);
    assert_passed_and_verified(&r);
    assert_eq!(r["stream"]["created"], false);
    assert_eq!(r["stream"]["limits_source"], "assumed");
    let streams = client.list_streams(shoal_protocol::ops::ListStreams::default()).expect("list");
    assert_eq!(streams.stream_names, ["existing"], "an existing stream is never deleted");
    server.shutdown().expect("shutdown");
}
