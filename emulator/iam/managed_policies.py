"""AWS managed policies for CodeCommit, as AWS publishes them under `arn:aws:iam::aws:policy/`.

The CodeCommit statements are what ccemu enforces; statements for services ccemu does not
emulate (CloudWatch Events, SNS, CodeStar notifications, ...) are kept as data so the documents
read as they do on AWS and simulations against them give AWS's answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    id: str
    description: str
    version: str
    created: datetime
    updated: datetime
    document: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy/{self.name}"


def _doc(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


_NOTIFICATIONS_READ = {
    "Sid": "CodeStarNotificationsListAccess",
    "Effect": "Allow",
    "Action": [
        "codestar-notifications:ListNotificationRules",
        "codestar-notifications:ListEventTypes",
        "codestar-notifications:ListTargets",
    ],
    "Resource": "*",
}
_EVENTS_READ = {
    "Sid": "CloudWatchEventsCodeCommitRulesReadOnlyAccess",
    "Effect": "Allow",
    "Action": ["events:DescribeRule", "events:ListTargetsByRule"],
    "Resource": "arn:aws:events:*:*:rule/codecommit*",
}
_EVENTS_WRITE = {
    "Sid": "CloudWatchEventsCodeCommitRulesAccess",
    "Effect": "Allow",
    "Action": [
        "events:DeleteRule",
        "events:DescribeRule",
        "events:DisableRule",
        "events:EnableRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:ListTargetsByRule",
    ],
    "Resource": "arn:aws:events:*:*:rule/codecommit*",
}
_SNS_WRITE = {
    "Sid": "SNSTopicAndSubscriptionAccess",
    "Effect": "Allow",
    "Action": ["sns:Subscribe", "sns:Unsubscribe"],
    "Resource": "arn:aws:sns:*:*:codecommit*",
}
_SNS_READ = {
    "Sid": "SNSTopicAndSubscriptionReadAccess",
    "Effect": "Allow",
    "Action": ["sns:ListTopics", "sns:ListSubscriptionsByTopic", "sns:GetTopicAttributes"],
    "Resource": "*",
}
_LAMBDA_READ = {
    "Sid": "LambdaReadOnlyListAccess",
    "Effect": "Allow",
    "Action": ["lambda:ListFunctions"],
    "Resource": "*",
}
_IAM_SELF = {
    "Sid": "IAMReadOnlyListAccess",
    "Effect": "Allow",
    "Action": ["iam:ListUsers"],
    "Resource": "*",
}
_IAM_CREDENTIALS = {
    "Sid": "IAMUserSSHKeys",
    "Effect": "Allow",
    "Action": [
        "iam:DeleteSSHPublicKey",
        "iam:GetSSHPublicKey",
        "iam:ListSSHPublicKeys",
        "iam:UpdateSSHPublicKey",
        "iam:UploadSSHPublicKey",
    ],
    "Resource": "arn:aws:iam::*:user/${aws:username}",
}
_IAM_GIT_CREDENTIALS = {
    "Sid": "IAMSelfManageServiceSpecificCredentials",
    "Effect": "Allow",
    "Action": [
        "iam:CreateServiceSpecificCredential",
        "iam:UpdateServiceSpecificCredential",
        "iam:DeleteServiceSpecificCredential",
        "iam:ResetServiceSpecificCredential",
    ],
    "Resource": "arn:aws:iam::*:user/${aws:username}",
}
_IAM_READ_CREDENTIALS = {
    "Sid": "IAMReadOnlyConsoleAccess",
    "Effect": "Allow",
    "Action": ["iam:ListAccessKeys", "iam:ListSSHPublicKeys", "iam:ListServiceSpecificCredentials"],
    "Resource": "arn:aws:iam::*:user/${aws:username}",
}

_READ_ONLY_ACTIONS = [
    "codecommit:BatchGet*",
    "codecommit:BatchDescribe*",
    "codecommit:Describe*",
    "codecommit:EvaluatePullRequestApprovalRules",
    "codecommit:Get*",
    "codecommit:List*",
    "codecommit:GitPull",
]

_POWER_USER_ACTIONS = [
    "codecommit:AssociateApprovalRuleTemplateWithRepository",
    "codecommit:BatchAssociateApprovalRuleTemplateWithRepositories",
    "codecommit:BatchDisassociateApprovalRuleTemplateFromRepositories",
    "codecommit:BatchGet*",
    "codecommit:BatchDescribe*",
    "codecommit:Create*",
    "codecommit:DeleteBranch",
    "codecommit:DeleteFile",
    "codecommit:Describe*",
    "codecommit:DisassociateApprovalRuleTemplateFromRepository",
    "codecommit:EvaluatePullRequestApprovalRules",
    "codecommit:Get*",
    "codecommit:List*",
    "codecommit:Merge*",
    "codecommit:OverridePullRequestApprovalRules",
    "codecommit:Put*",
    "codecommit:Post*",
    "codecommit:TagResource",
    "codecommit:Test*",
    "codecommit:UntagResource",
    "codecommit:Update*",
    "codecommit:GitPull",
    "codecommit:GitPush",
]

_CREATED = datetime(2015, 7, 9, 17, 2, 19, tzinfo=UTC)

AWS_MANAGED: tuple[AwsManagedPolicy, ...] = (
    AwsManagedPolicy(
        name="AWSCodeCommitFullAccess",
        id="ANPAI4VCZ3XPIZLQ5NZV2",
        description="Provides full access to AWS CodeCommit via the AWS Management Console.",
        version="v7",
        created=_CREATED,
        updated=datetime(2023, 5, 10, 18, 5, 41, tzinfo=UTC),
        document=_doc(
            [
                {"Effect": "Allow", "Action": ["codecommit:*"], "Resource": "*"},
                _EVENTS_WRITE,
                _SNS_WRITE
                | {
                    "Action": [
                        "sns:CreateTopic",
                        "sns:DeleteTopic",
                        *_SNS_WRITE["Action"],
                        "sns:SetTopicAttributes",
                    ]
                },
                _SNS_READ,
                _LAMBDA_READ,
                _IAM_SELF,
                _IAM_CREDENTIALS,
                _IAM_READ_CREDENTIALS,
                _IAM_GIT_CREDENTIALS,
                _NOTIFICATIONS_READ,
            ]
        ),
    ),
    AwsManagedPolicy(
        name="AWSCodeCommitPowerUser",
        id="ANPAI4UIINUVGB5SEC57G",
        description=(
            "Provides full access to AWS CodeCommit repositories, but does not allow repository"
            " deletion."
        ),
        version="v16",
        created=_CREATED,
        updated=datetime(2025, 1, 10, 20, 7, 0, tzinfo=UTC),
        document=_doc(
            [
                {"Effect": "Allow", "Action": _POWER_USER_ACTIONS, "Resource": "*"},
                _EVENTS_WRITE,
                _SNS_WRITE,
                _SNS_READ,
                _LAMBDA_READ,
                _IAM_SELF,
                _IAM_CREDENTIALS,
                _IAM_READ_CREDENTIALS,
                _IAM_GIT_CREDENTIALS,
                _NOTIFICATIONS_READ,
            ]
        ),
    ),
    AwsManagedPolicy(
        name="AWSCodeCommitReadOnly",
        id="ANPAJACNSXR7Z2VLJW3D6",
        description="Provides read only access to AWS CodeCommit via the AWS Management Console.",
        version="v8",
        created=_CREATED,
        updated=datetime(2023, 5, 10, 18, 5, 41, tzinfo=UTC),
        document=_doc(
            [
                {"Effect": "Allow", "Action": _READ_ONLY_ACTIONS, "Resource": "*"},
                _EVENTS_READ,
                _SNS_READ,
                _LAMBDA_READ,
                _IAM_SELF,
                _IAM_READ_CREDENTIALS,
                _NOTIFICATIONS_READ,
            ]
        ),
    ),
)

BY_ARN: dict[str, AwsManagedPolicy] = {p.arn: p for p in AWS_MANAGED}
