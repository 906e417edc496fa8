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
//
// `in_doubt`: an earlier attempt of this file may have reached the server
// (it failed without a clear answer, or gridlet stopped during it). A file
// server (FTP, FTPS, SFTP) is then first asked for <name>: if it holds the
// same bytes, the file counts as delivered and is not sent again, so a
// server that went away between the rename and its answer, or a gridlet
// killed after it, does not make a second copy arrive. HTTP relies on the
// Idempotency-Key instead; e-mail on its Message-ID.
Status push_file(const TargetConfig& t, const std::string& file_name, const std::string& bytes,
                 const std::string& idempotency_key, const std::function<bool()>& cancel, bool in_doubt = false);

// "Test connectivity": logs in and writes the small file
// gridlet-connectivity-test.txt, then deletes it again (FTP, SFTP); an HTTP
// target receives it with the header X-Gridlet-Test: 1. Returns what was
// done, or the error.
Expected<std::string> test_target(const TargetConfig& t, const std::function<bool()>& cancel);

}  // namespace gridlet::exporter
