"""Create the template's DynamoDB tables, S3 buckets, secrets, SSM parameters, SQS queues, KMS keys and SES
identities on an AWS-compatible endpoint (moto, LocalStack, AWS).

Physical names are ``<prefix>-<LogicalId>`` so several test runs can share one endpoint.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3

from infra.local.template import NO_VALUE, App, function_arn, resolve, state_machine_arn

_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "BillingMode",
)


def physical_names(app: App, prefix: str) -> dict[str, str]:
    names = {lid: f"{prefix}-{lid}" for lid in app.resources("AWS::DynamoDB::Table")}
    names.update({lid: f"{prefix}-{lid}".lower()[:63] for lid in app.resources("AWS::S3::Bucket")})
    # !Ref of a function is its name; the local stack's Lambda Invoke API knows its functions by logical id
    names.update({lid: lid for lid in app.functions})
    names.update({f"{lid}.Arn": function_arn(lid) for lid in app.functions})
    for lid in app.state_machines:  # !Ref of a state machine is its ARN, !GetAtt .Name its name
        names[f"{lid}.Name"] = f"{prefix}-{lid}"[:80]
        names[lid] = names[f"{lid}.Arn"] = state_machine_arn(names[f"{lid}.Name"])
    return names


def provision(
    app: App, prefix: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
    params: dict[str, Any] | None = None,
) -> dict[str, str]:  # fmt: skip
    """Create every table, bucket, secret, parameter, queue, KMS key and state machine (idempotent). Returns
    logical id -> physical name (and ``"<id>.<attr>"`` for ``!GetAtt <id>.<attr>`` where it differs from ``!Ref``).
    ``params`` overrides template parameters (the state machines' substitutions may name them)."""
    names = physical_names(app, prefix)
    ddb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
    existing = set(ddb.list_tables().get("TableNames", []))
    for lid, res in app.resources("AWS::DynamoDB::Table").items():
        if names[lid] in existing:
            continue
        props: dict[str, Any] = {k: v for k, v in res["Properties"].items() if k in _TABLE_KEYS}
        if "StreamSpecification" in props:
            props["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        ddb.create_table(TableName=names[lid], **props)
        ttl = res["Properties"].get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=names[lid], TimeToLiveSpecification=ttl)
    for lid, res in app.resources("AWS::S3::Bucket").items():
        provision_bucket(s3, names[lid], res.get("Properties") or {})
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint_url, region_name=region)
    for lid in app.resources("AWS::SecretsManager::Secret"):
        name = f"{prefix}-{lid}"
        try:  # !Ref of a secret is its ARN; locally it starts empty (no provider keys: live APIs are not called)
            names[lid] = secrets.create_secret(Name=name, SecretString="{}")["ARN"]
        except secrets.exceptions.ResourceExistsException:
            names[lid] = secrets.describe_secret(SecretId=name)["ARN"]
    ssm = boto3.client("ssm", endpoint_url=endpoint_url, region_name=region)
    for lid, res in app.resources("AWS::SSM::Parameter").items():
        names[lid] = f"{prefix}-{lid}"  # !Ref of a parameter is its name
        with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
            ssm.put_parameter(Name=names[lid], Value=str(res["Properties"]["Value"]),
                              Type=str(res["Properties"].get("Type", "String")))  # fmt: skip
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
    queues = app.resources("AWS::SQS::Queue")
    for lid in queues:
        name = f"{prefix}-{lid}"[:80]  # !Ref of a queue is its URL, !GetAtt .QueueName its name, .Arn its ARN
        names[lid], names[f"{lid}.QueueName"] = sqs.create_queue(QueueName=name)["QueueUrl"], name
        names[f"{lid}.QueueUrl"] = names[lid]
        names[f"{lid}.Arn"] = sqs.get_queue_attributes(QueueUrl=names[lid], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    for lid, res in queues.items():  # once every queue exists: a redrive policy names its dead-letter queue
        attributes = _queue_attributes(res["Properties"], names)
        if attributes:
            sqs.set_queue_attributes(QueueUrl=names[lid], Attributes=attributes)
    names.update(_kms_keys(app, prefix, endpoint_url=endpoint_url, region=region))
    _ses_identities(app, endpoint_url=endpoint_url, region=region)
    provision_state_machines(app, names, endpoint_url=endpoint_url, region=region, params=params)
    return names


def provision_state_machines(
    app: App, names: dict[str, str], *, endpoint_url: str | None, region: str = "us-east-1",
    params: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Create every ``AWS::Serverless::StateMachine`` with its definition substituted (moto's CloudFormation does
    not apply ``DefinitionSubstitutions``), or update the definition of one that exists. Its Lambda tasks name the
    functions by ``arn:aws:lambda:us-east-1:123456789012:function:<LogicalId>``, which the local Invoke API accepts.
    """
    if not app.state_machines:
        return
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint_url, region_name=region)
    params = {**app.parameter_defaults(), **(params or {})}
    existing = {m["name"] for page in sfn.get_paginator("list_state_machines").paginate()
                for m in page["stateMachines"]}  # fmt: skip
    for lid, machine in app.state_machines.items():
        definition = json.dumps(machine.render(names, params))
        name, arn = names[f"{lid}.Name"], names[f"{lid}.Arn"]
        if name in existing:
            sfn.update_state_machine(stateMachineArn=arn, definition=definition)
            continue
        role = f"arn:aws:iam::123456789012:role/{name}-role"  # SAM makes one from Policies; moto checks none
        created = sfn.create_state_machine(name=name, definition=definition, roleArn=role, type=machine.type)
        if created["stateMachineArn"] != arn:
            raise RuntimeError(f"{lid}: created as {created['stateMachineArn']}, expected {arn}")


def provision_bucket(s3: Any, name: str, props: dict[str, Any]) -> None:
    """Create a bucket; with the template's ``ObjectLockEnabled``, Object Lock (which can only be turned on at
    creation) and its default retention (``ObjectLockConfiguration``)."""
    locked = bool(props.get("ObjectLockEnabled"))
    try:
        s3.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if locked else {}))
    except s3.exceptions.BucketAlreadyOwnedByYou:
        return
    if locked and "ObjectLockConfiguration" in props:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=props["ObjectLockConfiguration"])


def _ses_identities(app: App, *, endpoint_url: str | None, region: str) -> None:
    """Every ``AWS::SES::EmailIdentity`` (the account mails' sender), so SES accepts mail from it as a verified
    identity; on moto it is verified at once (in AWS, by the mail SES sends to the address, or DKIM for a domain)."""
    identities = app.resources("AWS::SES::EmailIdentity")
    if not identities:
        return
    ses = boto3.client("sesv2", endpoint_url=endpoint_url, region_name=region)
    for res in identities.values():
        identity = str(resolve(res["Properties"]["EmailIdentity"], {}, app.parameter_defaults()))
        with contextlib.suppress(ses.exceptions.AlreadyExistsException):
            ses.create_email_identity(EmailIdentity=identity)


_QUEUE_PROPS = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


def _queue_attributes(props: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """The template's queue properties as SQS attributes (the redrive policy's dead-letter ARN resolved)."""
    out = {k: str(props[k]) for k in _QUEUE_PROPS if k in props}
    redrive = props.get("RedrivePolicy")
    if redrive:
        policy = {"deadLetterTargetArn": resolve(redrive["deadLetterTargetArn"], names, {}),
                  "maxReceiveCount": redrive["maxReceiveCount"]}  # fmt: skip
        out["RedrivePolicy"] = json.dumps(policy)
    return out


_KEY_PROPS = ("KeySpec", "KeyUsage", "Description")


def _kms_keys(app: App, prefix: str, *, endpoint_url: str | None, region: str) -> dict[str, str]:
    """Every ``AWS::KMS::Key`` with the template's spec and usage, found again by its alias ``alias/<prefix>-<id>``.
    ``!Ref`` of a key is its key id (``names[id]``), ``!GetAtt <id>.Arn`` its ARN (``names["<id>.Arn"]``)."""
    kms = boto3.client("kms", endpoint_url=endpoint_url, region_name=region)
    names: dict[str, str] = {}
    for lid, res in app.resources("AWS::KMS::Key").items():
        alias = f"alias/{prefix}-{lid}"
        try:
            meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except kms.exceptions.NotFoundException:
            props = {k: v for k, v in res["Properties"].items() if k in _KEY_PROPS}
            meta = kms.create_key(**props)["KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        names[lid], names[f"{lid}.Arn"] = meta["KeyId"], meta["Arn"]
    return names


def function_environment(
    app: App, names: dict[str, str], endpoints: dict[str, str] | None = None, params: dict[str, str] | None = None
) -> dict[str, str]:
    """One environment for every function (globals + each function's variables, refs resolved).

    ``endpoints`` maps an API's logical id to its local URL (what an ``https://${Api}.execute-api...`` becomes);
    ``params`` overrides template parameters (``sam deploy --parameter-overrides``).

    The local stack runs every handler in one process, so a variable two functions set differently is an error.
    """
    params = {**app.parameter_defaults(), **(params or {})}
    env: dict[str, str] = {}
    for fn in app.functions.values():
        for key, value in {**app.global_env, **fn.environment}.items():
            resolved = str(resolve(value, names, params, endpoints, app.template.get("Conditions") or {}))
            if resolved == NO_VALUE:  # !If [cond, x, !Ref AWS::NoValue]: CloudFormation drops the variable
                continue
            if resolved.startswith("{{resolve:secretsmanager:"):  # a secret the template generates: locally the
                resolved = ""  # secrets start empty ("{}", above), so is the variable (CloudFormation resolves it)
            if key in env and env[key] != resolved:
                raise ValueError(f"{key} differs between functions ({env[key]!r} vs {resolved!r})")
            env[key] = resolved
    return env
