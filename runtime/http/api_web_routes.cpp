// The dashboard's files (web_files.h) on every path outside /api/: the
// single-page application, which then uses only the public API. Handlers
// run on the server's pool; the files are read-only after start.
#include <httplib.h>

#include "http/api_request.h"
#include "http/api_server.h"

namespace gridlet::http {

void ApiServer::web_routes() {
    httplib::Server& s = *server_;
    s.Get(R"(/(?!api(/|$)).*)", [this](const httplib::Request& req, httplib::Response& res) {
        const WebFile* f = web_.find(req.path);
        if (!f)
            return send_error(res, 404, "not_found",
                              web_.loaded() ? "no file " + printable(req.path)
                                            : "the dashboard is not served here ([http] dashboard = false, or no "
                                              "build of web/ was found): the API is under /api/v1");
        res.headers.erase("Cache-Control");
        res.set_header("Cache-Control", f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
        // cpp-httplib compresses it (gzip or brotli) for a client that accepts it.
        res.set_content(f->bytes, f->content_type);
    });
}

}  // namespace gridlet::http
