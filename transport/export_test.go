package transport

// MapTLSError exposes mapTLSError to black-box tests.
var MapTLSError = mapTLSError
