// Package localcloud owns iotbench's AWS-free bench cloud: a local
// certificate authority (created once under the XDG data directory, key
// 0600) that issues device certificates from a CSR or with a generated
// key, a registry of things, certificates and policies, an embedded MQTT
// broker (mochi-mqtt) on mutual TLS that admits devices by certificate and
// checks every CONNECT, PUBLISH, SUBSCRIBE and delivery with the same
// policy evaluator as AWS IoT (awsops/policy), and a file-backed
// time-series store for telemetry (the local DynamoDB rule).
//
// Provisioning mirrors awsops: Provision (thing, key or CSR, certificate,
// CA, endpoint), Status, Deprovision.
package localcloud
