// Package mqttview owns the client side of MQTT for iotbench: connecting
// to AWS IoT Core (mutual TLS on 8883, ALPN x-amzn-mqtt-ca on 443, or a
// SigV4-presigned WebSocket), to the local cloud or to any broker; keeping
// the connection up (reconnect with backoff, re-subscribe, a visible
// state); and remembering what arrived: a topic tree with per-topic
// counts, rates, retained flags and a bounded history, payload rendering
// (JSON, text, hex), numeric series, diffs and a JSON-lines export.
//
// It never touches a terminal: states and messages reach the caller
// through callbacks and the Store.
package mqttview
