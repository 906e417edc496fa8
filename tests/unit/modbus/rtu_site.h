// Units 1..n on one RS-485 bus (a pty pair, 19200 8N1) served by the
// simulator's fault-injecting RtuServer: the RTU twin of fault_site.h's
// TcpSite. Needs socat (pty_pair.h). Test code.
#pragma once

#include "fault_site.h"
#include "pty_pair.h"
#include "rtu_server.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace gridlet::modbus::test {

struct RtuSite {
    static constexpr const char* kTransport = "rtu";
    PtyPair pty;
    std::vector<std::unique_ptr<gridlet::sim::RegisterBank>> banks;
    gridlet::sim::UnitMap units;
    gridlet::sim::RtuServer server{units};
    explicit RtuSite(int n = 1) {
        for (int u = 1; u <= n; ++u) {
            banks.push_back(fill_unit(u));
            units.add(static_cast<uint8_t>(u), banks.back().get());
        }
        gridlet::sim::SerialSettings ss;
        ss.device = pty.b;
        start_error = server.start(ss);
        EXPECT_EQ(start_error, "");
    }
    std::string address() const { return "rtu:" + pty.a; }
    std::string start_error;
};

}  // namespace gridlet::modbus::test
