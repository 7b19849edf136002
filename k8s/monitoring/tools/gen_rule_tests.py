import yaml
rules = yaml.safe_load(open("k8s/monitoring/gatehouse-rules.yaml"))
ann = {}
labels = {}
for g in rules["groups"]:
    for r in g["rules"]:
        if "alert" in r:
            ann[r["alert"]] = r["annotations"]; labels[r["alert"]] = r["labels"]
L = 'instance="a",job="gatehouse"'
def ser(name, sel, values): return {"series": "%s{%s}" % (name, sel), "values": values}
def case(name, series, eval_time, extra_labels, silent=()):
    lab = dict(labels[name]); lab.update(extra_labels)
    t = {"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": eval_time, "alertname": name, "exp_alerts": [{"exp_labels": lab, "exp_annotations": ann[name]}]}]}
    for s in silent:
        t["alert_rule_test"].append({"eval_time": eval_time, "alertname": s, "exp_alerts": []})
    return t
def http(route, code, le, values):
    sel = 'route="%s",method="POST",code="%s",%s' % (route, code, L)
    if le is None: return ser("gatehouse_http_request_duration_seconds_count", sel, values)
    return ser("gatehouse_http_request_duration_seconds_bucket", sel + ',le="%s"' % le, values)
tests = [
  case("GatehouseLoginAvailabilityBurnFast", [ser("gatehouse_login_attempts_total", 'result="success",' + L, "0+100x100"), ser("gatehouse_login_attempts_total", 'result="error",' + L, "0+20x100")], "70m", {}),
  case("GatehouseLoginAvailabilityBurnSlow", [ser("gatehouse_login_attempts_total", 'result="success",' + L, "0+998x440"), ser("gatehouse_login_attempts_total", 'result="error",' + L, "0+2x440")], "7h", {}, silent=["GatehouseLoginAvailabilityBurnFast"]),
  case("GatehouseLoginLatencyBurnFast", [http("/v1/login", "200", None, "0+100x100"), http("/v1/login", "200", "0.5", "0+50x100")], "70m", {}),
  case("GatehouseLoginLatencyBurnSlow", [http("/v1/login", "200", None, "0+100x440"), http("/v1/login", "200", "0.5", "0+98x440")], "7h", {}, silent=["GatehouseLoginLatencyBurnFast"]),
  case("GatehouseRefreshAvailabilityBurnFast", [http("/oauth2/token", "200", None, "0+100x100"), http("/oauth2/token", "500", None, "0+10x100")], "70m", {}),
  case("GatehouseRefreshAvailabilityBurnSlow", [http("/oauth2/token", "200", None, "0+998x440"), http("/oauth2/token", "500", None, "0+2x440")], "7h", {}, silent=["GatehouseRefreshAvailabilityBurnFast"]),
  case("GatehouseRevocationPropagationSlow",
       [ser("gatehouse_revocation_propagation_seconds_bucket", L + ',le="%s"' % le, "0x30" if float(le) < 2 else "0+10x30") for le in ["0.05", "0.1", "0.25", "0.5", "1", "2", "5", "10"]]
       + [ser("gatehouse_revocation_propagation_seconds_bucket", L + ',le="+Inf"', "0+10x30")], "20m", {}),
  case("GatehouseHashingSaturated", [ser("gatehouse_password_hash_inflight", L, "4x30"), ser("gatehouse_password_hash_workers", L, "4x30")], "20m", {"job": "gatehouse"}),
  case("GatehouseRateLimiterUnavailable", [ser("gatehouse_defense_fallback", L, "1x20")], "10m", {"instance": "a"}),
  case("GatehouseKeyRefreshFailing", [ser("gatehouse_key_refresh_consecutive_failures", L, "0 1 2 3 3 3 3 3 3 3 3 3 3"), ser("gatehouse_keys_age_seconds", L, "0x12")], "12m", {"instance": "a"}),
  case("GatehouseEventBacklogOld", [ser("gatehouse_events_backlog_age_seconds", L, "0+60x20")], "15m", {"instance": "a"}),
  case("GatehouseEventsDropped", [ser("gatehouse_events_dropped_total", L, "0 0 5 5 5")], "4m", {"job": "gatehouse"}),
  case("GatehouseStuffingDetected", [ser("gatehouse_ratelimit_decisions_total", 'layer="detection",decision="deny",' + L, "0+300x20")], "10m", {"job": "gatehouse"}),
  case("GatehouseDefenseModeChanged", [ser("gatehouse_defense_level", L, "0 0 0 1 1 1")], "5m", {"instance": "a", "job": "gatehouse"}),
]
# Quiet series raise nothing.
quiet = {"interval": "1m", "input_series": [
    ser("gatehouse_login_attempts_total", 'result="success",' + L, "0+100x100"), ser("gatehouse_login_attempts_total", 'result="error",' + L, "0x100"),
    ser("gatehouse_defense_fallback", L, "0x100"), ser("gatehouse_events_backlog_age_seconds", L, "0x100"), ser("gatehouse_defense_level", L, "0x100")],
  "alert_rule_test": [{"eval_time": "90m", "alertname": a, "exp_alerts": []} for a in ["GatehouseLoginAvailabilityBurnFast", "GatehouseLoginAvailabilityBurnSlow", "GatehouseRateLimiterUnavailable", "GatehouseEventBacklogOld", "GatehouseDefenseModeChanged"]]}
tests.append(quiet)
with open("k8s/monitoring/tests/gatehouse-rules-test.yaml", "w") as f:
    f.write("# promtool test rules: each alert fires from synthetic series, and quiet series fire none.\n")
    yaml.safe_dump({"rule_files": ["../gatehouse-rules.yaml"], "evaluation_interval": "1m", "tests": tests}, f, sort_keys=False, width=200)
print(len(tests))
