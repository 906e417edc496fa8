#include "core/aggregate.h"

#include <string>

namespace gridlet {

const char* aggregate_name(Aggregate a) noexcept {
    switch (a) {
        case Aggregate::avg: return "avg";
        case Aggregate::min: return "min";
        case Aggregate::max: return "max";
        case Aggregate::sum: return "sum";
        case Aggregate::count: return "count";
        case Aggregate::first: return "first";
        case Aggregate::last: return "last";
        case Aggregate::consumption: return "consumption";
    }
    return "avg";
}

Expected<Aggregate> parse_aggregate(std::string_view n) {
    for (Aggregate a : {Aggregate::avg, Aggregate::min, Aggregate::max, Aggregate::sum, Aggregate::count,
                        Aggregate::first, Aggregate::last, Aggregate::consumption})
        if (n == aggregate_name(a)) return a;
    if (n == "mean") return Aggregate::avg;
    if (n == "delta") return Aggregate::consumption;
    return Status::invalid("aggregate '" + std::string(n) +
                           "': use one of avg, min, max, sum, count, first, last, consumption (or delta)");
}

}  // namespace gridlet
