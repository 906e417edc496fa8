// The OpenAPI 3 document of the API (runtime/http/openapi.json, built in).
// Any thread.
#pragma once

#include <string>

namespace gridlet::http {

const std::string& openapi_document();

}  // namespace gridlet::http
