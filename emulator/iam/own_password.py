"""Who may change their own console password (ChangePassword, the console's reset form).

A user's own policies may allow `iam:ChangePassword` on its user; the account password policy's
`AllowUsersToChangePassword` lets every user do it unless a policy denies it explicitly, as
IAM documents. Both the API and the console ask here, through the one gate.
"""

from __future__ import annotations

from emulator.iam.authorize import AccessDenied, Authorizer, denial_message
from emulator.iam.keys.login_profiles import LoginProfiles
from emulator.iam.principal import Principal

ACTION = "iam:ChangePassword"


def authorize_own_password(
    authorizer: Authorizer,
    logins: LoginProfiles,
    principal: Principal,
    user_arn: str,
    *,
    source_ip: str | None = None,
    secure_transport: bool | None = None,
) -> None:
    decision = authorizer.decide(
        principal, ACTION, user_arn, source_ip=source_ip, secure_transport=secure_transport
    )
    if decision is None or decision.allowed:
        return
    policy = logins.find_policy(principal.account)
    if decision.decision != "explicitDeny" and policy is not None and policy.allow_users_to_change:
        return
    raise AccessDenied(
        denial_message(principal, ACTION, user_arn, decision.reason),
        action=ACTION,
        resource=user_arn,
        evaluation=decision,
    )
