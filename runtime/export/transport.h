// Pushing one file to an [[export_targets]] server with libcurl: FTP (TLS
// by AUTH TLS unless tls = "none"), FTPS (implicit TLS), SFTP (password or
// key, the host key checked), HTTP(S) PUT or POST. Blocking, bounded by the
// target's timeout (a transfer that moves no byte for 30 s stops);
// `cancel` (polled about every second) aborts it (gridlet stopping).
//
// A file never appears half-written on a file server: FTP and SFTP upload
// "<name>.part" and rename it to <name> once complete (an older <name> from
// an earlier attempt is replaced). HTTP sends the whole body with
// Content-Length; a 2xx answer is success. Each HTTP request carries
// X-Gridlet-File: <name> and Idempotency-Key: <key>, the same for every
// attempt of one file, so a receiver can drop a repeat after a lost answer.
//
// Errors say which target and URL (never the password) and what the server
// said. Any thread; one transfer per call.
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "export/export_target.h"

namespace gridlet::exporter {

// Sends `bytes` as the file `file_name` (no '/', '\\', '"' or control
// characters: invalid) to the target's folder or URL.
Status push_file(const TargetConfig& t, const std::string& file_name, const std::string& bytes,
                 const std::string& idempotency_key, const std::function<bool()>& cancel);

// "Test connectivity": logs in and writes the small file
// gridlet-connectivity-test.txt, then deletes it again (FTP, SFTP); an HTTP
// target receives it with the header X-Gridlet-Test: 1. Returns what was
// done, or the error.
Expected<std::string> test_target(const TargetConfig& t, const std::function<bool()>& cancel);

}  // namespace gridlet::exporter
