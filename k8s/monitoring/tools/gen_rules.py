import yaml, json
W = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
slos = {
  # name: (objective, bad expr template, total expr template, description)
  "login_availability": (0.999,
     'sum(rate(gatehouse_login_attempts_total{result="error"}[%s]))',
     'sum(rate(gatehouse_login_attempts_total[%s]))',
     "share of password logins that failed inside Gatehouse (result=error)"),
  "login_latency": (0.99,
     'sum(rate(gatehouse_http_request_duration_seconds_count{route="/v1/login",code!~"429|503"}[%s])) - sum(rate(gatehouse_http_request_duration_seconds_bucket{route="/v1/login",code!~"429|503",le="0.5"}[%s]))',
     'sum(rate(gatehouse_http_request_duration_seconds_count{route="/v1/login",code!~"429|503"}[%s]))',
     "share of answered logins slower than 500 ms"),
  "refresh_availability": (0.999,
     'sum(rate(gatehouse_http_request_duration_seconds_count{route="/oauth2/token",code=~"5.."}[%s]))',
     'sum(rate(gatehouse_http_request_duration_seconds_count{route="/oauth2/token"}[%s]))',
     "share of token-endpoint requests (refresh grants) answered 5xx"),
}
groups = []
for name, (obj, bad, total, desc) in slos.items():
    rules = []
    for w in W:
        b = bad.replace("%s", w)
        rules.append({"record": "gatehouse:slo_%s:error_ratio_rate%s" % (name, w),
                      "expr": "(%s)\n/\n(%s)" % (b, total.replace("%s", w))})
    groups.append({"name": "gatehouse-slo-%s-recording" % name.replace("_", "-"), "rules": rules})
alerts = []
titles = {"login_availability": "LoginAvailability", "login_latency": "LoginLatency", "refresh_availability": "RefreshAvailability"}
for name, (obj, bad, total, desc) in slos.items():
    budget = round(1 - obj, 6)
    r = lambda w: "gatehouse:slo_%s:error_ratio_rate%s" % (name, w)
    fast = "(\n  %s > (14.4 * %g)\n  and\n  %s > (14.4 * %g)\n)\nor\n(\n  %s > (6 * %g)\n  and\n  %s > (6 * %g)\n)" % (r("1h"), budget, r("5m"), budget, r("6h"), budget, r("30m"), budget)
    slow = "(\n  %s > (3 * %g)\n  and\n  %s > (3 * %g)\n)\nor\n(\n  %s > (1 * %g)\n  and\n  %s > (1 * %g)\n)" % (r("1d"), budget, r("2h"), budget, r("3d"), budget, r("6h"), budget)
    alerts.append({"alert": "Gatehouse%sBurnFast" % titles[name], "expr": fast, "for": "2m",
        "labels": {"severity": "page", "slo": name},
        "annotations": {"summary": "%s SLO (%g%%) is burning its 30-day error budget fast" % (titles[name], obj * 100),
                        "description": "The %s is burning the budget at 14.4x (1h and 5m windows) or 6x (6h and 30m): at this pace a month's budget is gone in 2 to 5 days. SLI: %s." % (desc, desc),
                        "runbook_url": "docs/runbooks/%s.md" % ("Gatehouse%sBurnFast" % titles[name])}})
    alerts.append({"alert": "Gatehouse%sBurnSlow" % titles[name], "expr": slow, "for": "15m",
        "labels": {"severity": "ticket", "slo": name},
        "annotations": {"summary": "%s SLO (%g%%) is burning its error budget slowly" % (titles[name], obj * 100),
                        "description": "The %s burns the budget at 3x (1d and 2h windows) or 1x (3d and 6h): the month's budget runs out before the month does." % desc,
                        "runbook_url": "docs/runbooks/%s.md" % ("Gatehouse%sBurnSlow" % titles[name])}})
def alert(name, expr, fr, sev, summary, desc):
    return {"alert": name, "expr": expr, "for": fr, "labels": {"severity": sev},
            "annotations": {"summary": summary, "description": desc, "runbook_url": "docs/runbooks/%s.md" % name}}
alerts += [
  alert("GatehouseRevocationPropagationSlow",
        'histogram_quantile(0.99, sum by (le) (rate(gatehouse_revocation_propagation_seconds_bucket[5m]))) > 1',
        "10m", "page", "Revoked sessions take over 1 s (p99) to be refused in a region",
        "The p99 of gatehouse_revocation_propagation_seconds is above 1 s: a logged-out or banned user's access tokens keep working longer than promised. Check Redis and the revocation sync."),
  alert("GatehouseHashingSaturated",
        '(\n  sum without (instance) (avg_over_time(gatehouse_password_hash_inflight[5m]))\n  / sum without (instance) (gatehouse_password_hash_workers) > 0.9\n)\nor\nsum without (instance) (rate(gatehouse_login_attempts_total{result="overloaded"}[5m])) > 1',
        "10m", "page", "The Argon2id pool is saturated",
        "Over 90% of the hashing workers are busy on average, or logins are being shed with 503 overloaded. Either real load outgrew the pods (scale out) or an attack passes the limits (see GatehouseStuffingDetected)."),
  alert("GatehouseRateLimiterUnavailable", 'max by (instance) (gatehouse_defense_fallback) == 1', "2m", "page",
        "Rate limits run in-process: Redis is unreachable",
        "Limits and failure counters fell back to per-process state: protection is weaker (per pod, not per region) until Redis answers."),
  alert("GatehouseKeyRefreshFailing",
        'max by (instance) (gatehouse_key_refresh_consecutive_failures) >= 3\nor\nmax by (instance) (gatehouse_keys_age_seconds) > 3600',
        "5m", "ticket", "Keys cannot be refreshed from Vault",
        "Three refreshes in a row failed or the keys are over an hour old. Logins go on with the last good keys, but a rotation will not be seen."),
  alert("GatehouseEventBacklogOld", 'max by (instance) (gatehouse_events_backlog_age_seconds) > 300', "5m", "page",
        "Auth events wait over 5 minutes to be published",
        "The oldest unpublished event is over 5 minutes old: the broker is away or the relay cannot keep up. Nothing is lost (the rows wait in auth_events); consumers (fraud, mail) lag."),
  alert("GatehouseEventsDropped", 'sum without (instance) (increase(gatehouse_events_dropped_total[10m])) > 0', "0m", "ticket",
        "Failed-login events were dropped",
        "The append queue of no-state-change events was full (the database was away or too slow); some failed logins are missing from the audit trail."),
  alert("GatehouseStuffingDetected",
        'sum without (instance, layer, decision) (rate(gatehouse_ratelimit_decisions_total{layer="detection",decision=~"deny|step_up"}[5m])) > 1',
        "2m", "page", "Credential stuffing or password spraying detected",
        "The detection layer refuses or steps up more than one attempt a second: many accounts from one network, or one password across many accounts."),
  alert("GatehouseDefenseModeChanged", 'changes(gatehouse_defense_level[10m]) > 0', "0m", "info",
        "The region's defense mode changed",
        "An operator or the automatic detector changed the defense mode (gatehouse_defense_mode says which); every threshold moved with it."),
]
groups.append({"name": "gatehouse-alerts", "rules": alerts})
header = "# Gatehouse SLOs and alerts (Prometheus rule file). Recording rules compute each\n# SLI's error ratio over the windows of the Google SRE workbook's multi-window,\n# multi-burn-rate alerts (chapter \"Alerting on SLOs\"); the alerts page at 14.4x/6x\n# and open tickets at 3x/1x. Alert names are fixed: docs/runbooks/<alert>.md.\n# Checked by `promtool check rules` and `promtool test rules tests/*.yaml`.\n"
class D(yaml.SafeDumper): pass
def str_rep(d, s):
    if "\n" in s: return d.represent_scalar("tag:yaml.org,2002:str", s, style="|")
    return d.represent_scalar("tag:yaml.org,2002:str", s)
D.add_representer(str, str_rep)
with open("k8s/monitoring/gatehouse-rules.yaml", "w") as f:
    f.write(header)
    yaml.dump({"groups": groups}, f, Dumper=D, sort_keys=False, width=200)
print("ok")
