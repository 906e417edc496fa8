// Read planning: which Modbus read requests cover a profile's points and
// scale registers. Neighbouring addresses of one function code are merged
// into requests of at most max_registers (max_bits for fc 1/2), bridging at
// most max_gap unneeded registers, and never leaving one [[readable]] range.
#pragma once

#include "profile.h"

#include <cstdint>
#include <vector>

namespace gridlet::modbus {

struct ReadRequest {
    int fc;
    uint16_t address;  // wire address
    uint16_t count;    // registers or bits
};

struct Location {
    int request = -1;  // index into RegisterPlan::requests
    int offset = 0;    // register (or bit) offset inside it
};

struct RegisterPlan {
    std::vector<ReadRequest> requests;
    std::vector<Location> points;  // parallel to Profile::points
    std::vector<Location> scales;  // parallel to Profile::points (request -1 when fixed scale)
    size_t registers_read() const;
};

RegisterPlan plan_reads(const Profile& profile);
// Plan for a subset of points (indices into profile.points), e.g. a read-back.
RegisterPlan plan_reads(const Profile& profile, const std::vector<size_t>& point_indices);

}  // namespace gridlet::modbus
