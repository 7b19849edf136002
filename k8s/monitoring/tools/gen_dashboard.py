import json
panels = []
def panel(title, exprs, unit="short", kind="timeseries", w=12, h=8, desc=""):
    i = len(panels)
    panels.append({"id": i + 1, "type": kind, "title": title, "description": desc,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": (i % 2) * 12 if w == 12 else 0, "y": (i // 2) * h, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(65 + j), "expr": e, "legendFormat": l} for j, (e, l) in enumerate(exprs)]})
panel("Logins by result", [('sum by (result) (rate(gatehouse_login_attempts_total[5m]))', "{{result}}")], "reqps")
panel("Login availability: error ratio (SLO 99.9%)", [("gatehouse:slo_login_availability:error_ratio_rate5m", "5m"), ("gatehouse:slo_login_availability:error_ratio_rate1h", "1h"), ("gatehouse:slo_login_availability:error_ratio_rate6h", "6h"), ("gatehouse:slo_login_availability:error_ratio_rate3d", "3d")], "percentunit")
panel("Login latency (p50, p95, p99)", [('histogram_quantile(%s, sum by (le) (rate(gatehouse_http_request_duration_seconds_bucket{route="/v1/login"}[5m])))' % q, "p%s" % q[2:]) for q in ("0.50", "0.95", "0.99")], "s")
panel("Login latency: share over 500 ms (SLO 99%)", [("gatehouse:slo_login_latency:error_ratio_rate5m", "5m"), ("gatehouse:slo_login_latency:error_ratio_rate1h", "1h"), ("gatehouse:slo_login_latency:error_ratio_rate3d", "3d")], "percentunit")
panel("Refresh grants by result", [('sum by (result) (rate(gatehouse_refresh_total[5m]))', "{{result}}")], "reqps")
panel("Refresh availability: error ratio (SLO 99.9%)", [("gatehouse:slo_refresh_availability:error_ratio_rate5m", "5m"), ("gatehouse:slo_refresh_availability:error_ratio_rate1h", "1h"), ("gatehouse:slo_refresh_availability:error_ratio_rate3d", "3d")], "percentunit")
panel("Hashing pool: busy workers / capacity", [("sum(gatehouse_password_hash_inflight)", "busy"), ("sum(gatehouse_password_hash_workers)", "workers"), ('sum(rate(gatehouse_login_attempts_total{result="overloaded"}[5m]))', "shed (503)/s")])
panel("Argon2id time (p50, p99)", [('histogram_quantile(%s, sum by (le) (rate(gatehouse_password_hash_seconds_bucket[5m])))' % q, "p%s" % q[2:]) for q in ("0.50", "0.99")], "s")
panel("Defense decisions by layer", [('sum by (layer, decision) (rate(gatehouse_ratelimit_decisions_total[5m]))', "{{layer}} {{decision}}")], "reqps")
panel("Defense mode and Redis fallback", [("max(gatehouse_defense_level)", "level (0 normal, 1 elevated, 2 emergency)"), ("max(gatehouse_defense_fallback)", "in-process fallback")])
panel("Revocation propagation (p50, p99)", [('histogram_quantile(%s, sum by (le) (rate(gatehouse_revocation_propagation_seconds_bucket[5m])))' % q, "p%s" % q[2:]) for q in ("0.50", "0.99")], "s")
panel("Keys: refresh failures and age", [("max(gatehouse_key_refresh_consecutive_failures)", "consecutive failures"), ("max(gatehouse_keys_age_seconds)", "age (s)")])
panel("Events published by sink", [('sum by (sink) (rate(gatehouse_events_published_total[5m]))', "{{sink}}"), ('sum by (sink) (rate(gatehouse_events_publish_failures_total[5m]))', "{{sink}} failed rounds")], "ops")
panel("Event backlog: size and oldest age", [("max(gatehouse_events_backlog)", "unpublished"), ("max(gatehouse_events_backlog_age_seconds)", "oldest (s)"), ("sum(increase(gatehouse_events_dropped_total[1h]))", "dropped (1h)")])
panel("Security events by kind", [('sum by (kind) (rate(gatehouse_security_events_total[5m]))', "{{kind}}")], "ops")
dash = {"title": "Gatehouse", "uid": "gatehouse-overview", "schemaVersion": 39, "version": 1, "editable": True,
  "tags": ["gatehouse", "auth", "slo"], "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
  "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]},
  "annotations": {"list": [{"name": "Defense mode changes", "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "expr": "changes(gatehouse_defense_level[1m]) > 0", "enable": True, "iconColor": "orange"}]},
  "panels": panels}
json.dump(dash, open("k8s/monitoring/gatehouse-dashboard.json", "w"), indent=2)
open("k8s/monitoring/gatehouse-dashboard.json", "a").write("\n")
print(len(panels))
