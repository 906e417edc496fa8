// The answer to a question about events, as `gridlet events` prints it and
// the HTTP API sends it (GET /api/v1/events): the same filter, the same CSV
// and JSON. Any thread (pure functions; the store's EventLog is
// thread-safe).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "answers/query_answer.h"
#include "core/status.h"
#include "core/timezone.h"
#include "store/events.h"

namespace gridlet::answers {

// What the user asked, as text (CLI options or URL parameters).
struct EventsRequest {
    std::string type;                  // exact ("ev_session"); empty: any
    std::string source;                // name, prefix ("rule/") or glob ("plugin/*"); empty: any
    std::string severity = "debug";    // the lowest shown
    std::string from = "-7d", to = "now";  // time specs (store/time_spec.h), [from, to)
    std::string format = "csv";        // csv or json
    std::string tz;                    // IANA zone of from/to and of the times written; empty: the site's
    size_t limit = 0;                  // at most this many, oldest first; 0: all
};

struct EventsPlan {
    store::EventFilter filter;
    TimeZone zone;
    bool json = false;
    bool pretty = false;  // JSON indented by 2 (the CLI); else compact
};

// Checks a request; errors (invalid_argument) name the option as
// `<prefix><name>` ("--from: ..." on the command line, "from: ..." in the API).
Expected<EventsPlan> plan_events(const EventsRequest& r, const std::string& site_timezone, int64_t now_ms,
                                 std::string_view prefix);

// One event as JSON: {time, ts_ms, source, type, severity, body}; body as
// JSON (its text when it is not JSON).
nlohmann::json event_json(const store::Event& e, const TimeZone& zone);

// Writes the events: CSV "time,source,type,severity,body" (body the event's
// JSON, quoted) or a JSON array of event_json.
void write_events(const std::vector<store::Event>& events, const EventsPlan& plan, const TextSink& out);

}  // namespace gridlet::answers
