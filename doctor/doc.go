// Package doctor owns diagnosis: it joins what the board printed (decoded
// serial events), what the cloud says (certificate status, attachments,
// the policy evaluator's verdict for this client id and topic, endpoint
// kind) and what the bench can probe itself (the board's own files: key
// against certificate, validity against the board's clock, a TLS handshake
// to the endpoint; the filesystem image in flash) into ranked findings,
// each with its evidence and one concrete fix.
//
// The ranking follows the decision order of device-side.md §7: a failure
// early in the board's start-up (boot mode, image, crash, files, Wi-Fi,
// clock) explains every later symptom, so it comes first. Cloud and probe
// facts are causes: when one explains a serial symptom (an inactive
// certificate explains "MQTT state -4"), the two become one finding that
// carries both kinds of evidence and the cause's fix.
//
// The package renders nothing and performs no I/O except in the probes,
// which take a context and a dialer.
package doctor
