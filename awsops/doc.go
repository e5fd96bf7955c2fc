// Package awsops owns iotbench's side of AWS IoT Core, through
// aws-sdk-go-v2: a board's identity (thing, key pair, certificate, the
// least-privilege policy and its attachments, the ATS data endpoint and
// the matching Amazon root CA, written as the DER and PEM files the
// firmware reads), the telemetry rule with its DynamoDB table and IAM
// role, reading telemetry history, and the on-disk ledger of what this
// bench provisioned. Subpackages: policy (the IoT policy language and
// evaluator), topics (the MQTT topic layout), emulator (an AWS emulator
// for tests) and awstest (test backends: the emulator and moto).
//
// Provisioning is idempotent and crash-safe: every step reads the ledger
// and AWS before it acts, the ledger is written atomically before and after
// every call that creates something that cannot be found again by name (a
// certificate), and a run that was killed is finished by the next one —
// a certificate minted by a lost response is recognised by its public key
// and adopted, duplicates and unusable ones are deleted.
//
// Errors are typed so the CLI can pick exit codes and say what to do:
// InputError, ConfigError (credentials, region, profile, network),
// AccessDeniedError (names the missing IAM action), ThrottledError,
// NotFoundError, ServiceError, KeyMismatchError, DeniedError (a policy
// check said no). Private keys are never logged, printed or returned,
// only written 0600.
//
// IAM permissions the operator needs (aws-iot.md §3.4): iot:CreateThing,
// DescribeThing, DeleteThing, CreateKeysAndCertificate,
// CreateCertificateFromCsr, DescribeCertificate, UpdateCertificate,
// DeleteCertificate, ListCertificates, CreatePolicy, GetPolicy,
// CreatePolicyVersion, ListPolicyVersions, DeletePolicyVersion,
// DeletePolicy, AttachPolicy, DetachPolicy, ListAttachedPolicies,
// ListTargetsForPolicy, AttachThingPrincipal, DetachThingPrincipal,
// ListThingPrincipals, ListPrincipalThings, DescribeEndpoint,
// CreateTopicRule, GetTopicRule, ReplaceTopicRule; iam:GetRole,
// CreateRole, GetRolePolicy, PutRolePolicy, PassRole; dynamodb:CreateTable,
// DescribeTable, DescribeTimeToLive, UpdateTimeToLive, Query.
package awsops
