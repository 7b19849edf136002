import json
uuid = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
s = lambda **kw: dict({"type": "string"}, **kw)
b = {"type": "boolean"}
email_hash = s(pattern="^([0-9a-f]{64}|malformed)$", description="hex SHA-256 of the normalised email; never the email")
reasons = ["invalid_credentials", "account_disabled", "password_reset_required", "error", "overloaded", "passkey_refused"]
factor = s(enum=["totp", "recovery_code", "webauthn"])
by = s(enum=["user", "admin"])
refusals = {"type": "integer", "minimum": 1, "description": "refusals this event stands for: a server writes at most 50 refusal events a second and counts the rest into the next one"}
# name, type, description, user required?, data properties, required data
E = [
 ("UserRegistered", "user.registered", "An account was created (sign-up or import).", True, {"email_verified": b, "imported": b}, ["email_verified"]),
 ("LoginSucceeded", "login.succeeded", "A login ended with tokens (password, or password then second factor).", True, {"email_hash": email_hash, "session_id": uuid, "factor": factor}, ["session_id"]),
 ("LoginFailed", "login.failed", "A login was refused; reason says why without saying which part was wrong.", False, {"email_hash": email_hash, "reason": s(enum=reasons), "refusals": refusals}, ["reason"]),
 ("LoginChallenged", "login.challenged", "A login was asked to solve a challenge first.", False, {"email_hash": email_hash}, ["email_hash"]),
 ("LoginRateLimited", "login.rate_limited", "A login was refused by a rate limit.", False, {"email_hash": email_hash, "refusals": refusals}, ["email_hash"]),
 ("AccountLocked", "account.locked", "A login met a temporarily locked account.", False, {"email_hash": email_hash, "reason": s()}, ["email_hash"]),
 ("AccountUnlocked", "account.unlocked", "A lock was lifted before it ran out.", True, {"by": by}, []),
 ("MFAChallenged", "mfa.challenged", "The password was right and a second factor was asked for.", True, {"email_hash": email_hash}, []),
 ("MFAFailed", "mfa.failed", "A second factor was refused.", True, {"factor": factor, "reason": s()}, ["factor"]),
 ("MFAEnrolled", "mfa.enrolled", "A second factor was added.", True, {"factor": factor}, ["factor"]),
 ("MFARemoved", "mfa.removed", "A second factor was removed; the user's other sessions ended.", True, {"factor": factor}, ["factor"]),
 ("RecoveryCodeUsed", "mfa.recovery_code_used", "A recovery code completed a login.", True, {}, []),
 ("PasskeyUsed", "passkey.used", "A passwordless passkey login succeeded.", True, {"session_id": uuid}, ["session_id"]),
 ("DeviceTrusted", "device.trusted", "A device was remembered after a login.", True, {"device_id": uuid, "device_name": s(maxLength=256)}, ["device_id"]),
 ("DeviceRevoked", "device.revoked", "A remembered device was forgotten.", True, {"device_id": uuid}, ["device_id"]),
 ("SessionStarted", "session.started", "A session and its refresh-token family were created.", True, {"session_id": uuid, "client_id": s(), "amr": {"type": "array", "items": s()}, "acr": s()}, ["session_id", "client_id", "amr"]),
 ("SessionRevoked", "session.revoked", "Sessions of the user were ended (logout everywhere, admin, factor removal).", True, {"by": by}, []),
 ("RefreshReuseDetected", "refresh.reuse_detected", "A used refresh token was presented again; its family was revoked.", True, {"session_id": uuid, "client_id": s(), "token_used_at": s(format="date-time"), "session_revoked": b}, ["session_id", "session_revoked"]),
 ("PasswordChanged", "password.changed", "The user changed their password.", True, {}, []),
 ("PasswordResetRequested", "password.reset_requested", "A reset mail was queued for the account.", True, {"reason": s(), "expires_at": s(format="date-time")}, ["expires_at"]),
 ("PasswordResetCompleted", "password.reset_completed", "A reset token set a new password; every session ended.", True, {}, []),
 ("PasswordResetForced", "password.reset_forced", "An administrator forced a password reset.", True, {"by": by}, []),
 ("CredentialMigrated", "credential.migrated", "A legacy, wrapped or outdated hash was replaced by a current Argon2id hash.", True, {"from": s(), "reason": s()}, ["from", "reason"]),
 ("BreachedPasswordDetected", "password.breached", "A login used a password found in a breach corpus; the account is flagged for a change.", True, {"found_in_corpus": b}, []),
 ("UserBanned", "user.banned", "An administrator banned the account; every session ended.", True, {"by": by}, []),
 ("UserUnbanned", "user.unbanned", "An administrator lifted a ban.", True, {"by": by}, []),
 ("DefenseModeChanged", "defense.mode_changed", "The region's effective defense mode changed.", None, {"from": s(), "to": s(enum=["normal", "elevated", "emergency"]), "operator": s(), "automatic": s()}, ["from", "to"]),
 ("KeysRotated", "keys.rotated", "The pepper or signing key versions changed.", None, {"keys": s()}, ["keys"]),
 ("StuffingDetected", "defense.stuffing_detected", "The failure ratio raised the automatic defense mode.", None, {"mode": s(), "failure_ratio": {"type": "number"}, "burst_failure_ratio": {"type": "number"}}, ["mode"]),
]
common = {"home_region": s(pattern="^[a-z0-9-]+$"), "client_ip": s(maxLength=64), "user_agent": s(maxLength=256)}
for name, typ, desc, user, props, req in E:
    dp = dict(common); dp.update(props)
    dreq = ["home_region"] + req
    top_req = ["specversion", "id", "source", "type", "time", "datacontenttype", "partitionkey", "data"]
    if user is True:
        dp["user_id"] = uuid; dreq = ["user_id"] + dreq; top_req.append("subject")
    elif user is False:
        dp["user_id"] = uuid
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gatehouse.id/schemas/events/%s.json" % name,
        "title": name,
        "description": desc + " CloudEvents 1.0, structured JSON. Never carries a password, token, secret or email.",
        "type": "object",
        "required": top_req,
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": uuid,
            "source": s(pattern="^/gatehouse/regions/[a-z0-9-]+$"),
            "type": {"const": "id.gatehouse.%s.v1" % typ},
            "subject": uuid,
            "time": s(format="date-time"),
            "datacontenttype": {"const": "application/json"},
            "partitionkey": s(minLength=1, description="the Kafka key: the user id, or region:<region> for region-wide events"),
            "data": {"type": "object", "required": dreq, "additionalProperties": False, "properties": dp},
        },
    }
    with open("docs/events/%s.json" % name, "w") as f:
        json.dump(schema, f, indent=2)
        f.write("\n")
print(len(E))
