// Package transport carries link messages, log records and seed streams
// between two sqlink instances over the endpoint listener.
//
// Certificates: each instance has one self-signed endpoint certificate
// (NewCertificate) used both when it accepts and when it dials.
package transport
