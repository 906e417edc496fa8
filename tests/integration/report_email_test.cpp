// The Legrand reports by e-mail with a real SMTP server (aiosmtpd,
// tests/support/smtp_sink.py) on a loopback port chosen by the test:
//   - the schedule: November's summary report, due at 01:00 on December 1st,
//     reaches the server exactly once although the server is away when it
//     is due (retried with backoff, the delivery alarm raised and cleared)
//     and the scheduler and sender are started again (a restart);
//   - the mail: sender, recipients, subject, a stable Message-ID and the PDF
//     attached (base64), which poppler reads back as the report;
//   - the binary: `gridlet check`, `export --list`, `--test-targets`, a
//     detailed CSV report sent with `--send`, a PDF written with `--out`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include "alarm/alarm_table.h"
#include "export/export_scheduler.h"
#include "export/outbox_sender.h"
#include "export/transport.h"
#include "integration/process.h"
#include "notify/notification_config.h"
#include "store/store.h"
#include "support/pdf_text.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::testing;

namespace {

std::vector<std::string> mail_files(const std::string& dir) {
    std::vector<std::string> out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".eml") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool wait_mail_count(const std::string& dir, size_t n, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
        if (mail_files(dir).size() >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// The mail's headers and parts (tests/support/mail_parts.py); attachments
// are written into `parts`.
nlohmann::json mail_parts(const std::string& eml, const std::string& parts) {
    const Result r = run({"/usr/bin/python3", source_dir() + "/tests/support/mail_parts.py", eml, parts});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
}

struct SmtpSink {
    int port = free_port();
    std::string dir;
    std::unique_ptr<Process> p;
    explicit SmtpSink(std::string folder) : dir(std::move(folder)) {}
    void start() {
        p = std::make_unique<Process>(std::vector<std::string>{"/usr/bin/python3",
                                                               source_dir() + "/tests/support/smtp_sink.py", "--port",
                                                               std::to_string(port), "--dir", dir});
        ASSERT_TRUE(p->wait_for_out("smtp sink on")) << p->err();
    }
};

const char* kReportSiteModel = R"(
[model]
currency = "EUR"
[[model.fluids]]
name = "electricity"
price = 0.15
[[model.points]]
name = "main"
energy = "meter/ea"
load = "lighting"
[[model.points]]
name = "hvac"
energy = "hvac/ea"
load = "heating"
)";

std::string notifications(int port) {
    return "[[notifications]]\nname = \"ops\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:" + std::to_string(port) +
           "\"\nstarttls = \"none\"\nfrom = \"gateway@report-it.example\"\nto = [\"ops@example.com\"]\n"
           "min_criticality = \"critical\"\n\n"
           "[[export_targets]]\nname = \"mail\"\nemail = \"ops\"\nto = [\"boss@example.com\", \"energy@example.com\"]\n"
           "retry = \"10s\"\n";
}

}  // namespace

TEST(ReportEmail, NovembersReportReachesTheServerOnceAcrossAnOutageAndARestart) {
    store::test::TempDir dir;
    auto st = store::Store::open(store::test::test_options(dir.path()));
    ASSERT_TRUE(st) << st.status().message();
    auto& s = **st;
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t nov = *paris.parse_iso("2026-11-01T00:00"), dec = *paris.parse_iso("2026-12-01T00:00");
    {
        SeriesMeta m = store::test::meta("meter/ea", SeriesKind::counter);
        m.unit = "kWh";
        const uint32_t id = *s.registry().intern(m);
        SeriesMeta h = store::test::meta("hvac/ea", SeriesKind::counter);
        h.unit = "kWh";
        const uint32_t hid = *s.registry().intern(h);
        std::vector<gl_sample> b;
        for (int64_t t = nov; t <= dec; t += 3'600'000) {
            b.push_back(store::test::gs(id, t, static_cast<double>((t - nov) / 3'600'000)));
            b.push_back(store::test::gs(hid, t, 2.0 * static_cast<double>((t - nov) / 3'600'000)));
        }
        ASSERT_TRUE(s.append(b));
    }
    SmtpSink sink(dir.path() / "mail");  // not started: the server is away when the report is due
    const std::string text = "[site]\nname = \"report-it\"\n" + std::string(kReportSiteModel) + notifications(sink.port) +
                             "[[reports]]\nname = \"monthly\"\ntype = \"summary\"\ntargets = [\"mail\"]\n";
    toml::table root = toml::parse(text, std::string("/site.toml"));
    config::Diagnostics diags;
    const auto model = model::parse_site_model(root, "/site.toml", "Europe/Paris", diags);
    const auto notes = notify::parse_notifications(root, "/site.toml", diags);
    const auto targets = exporter::parse_export_targets(root, "/site.toml", diags, exporter::TargetSecrets::read, notes);
    const auto exports = exporter::parse_exports(root, "/site.toml", "report-it", model, diags, targets);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    ASSERT_EQ(exports.size(), 1u);
    ASSERT_EQ(targets.size(), 1u);
    alarm::MemoryPersistence mem;
    alarm::AlarmTable alarms(mem);
    ASSERT_TRUE(alarms.load(nov));
    const auto push = [](const exporter::TargetConfig& t, const exporter::QueuedFile& f, const std::function<bool()>& c) {
        return exporter::push_file(t, f.file_name, f.bytes, "gridlet:" + f.export_name + ":" + f.file_name, c);
    };
    const std::string alarm_key = "system/export_delivery_failed|mail";
    int64_t now = nov + 14 * 86'400'000;  // first started mid-November
    {
        exporter::ExportScheduler sch(exports, s.query(), s.registry(), s.state(), paris, &alarms, targets, &s.outbox(),
                                      &model);
        exporter::OutboxSender sender(targets, s.outbox(), s.state(), &alarms, push);
        ASSERT_TRUE(sch.start(now));
        ASSERT_TRUE(sender.start(now));
        now = dec + 30 * 60'000;  // 00:30 on Dec 1st: not due before its delay (1h)
        sch.poll(now);
        EXPECT_EQ(sender.counters().waiting, 0u);
        now = dec + 3'600'000 + 1000;
        sch.poll(now);
        sender.poll(now, [] { return false; });
        EXPECT_EQ(sender.counters().waiting, 1u) << "the server is away: the report waits in the outbox";
        EXPECT_GE(sender.counters().failures, 1u);
        // Retried with backoff (10 s, 20 s, ...): three failures raise the alarm.
        for (int i = 0; i < 4; ++i) {
            now += 10 * 60'000;
            sch.poll(now);
            sender.poll(now, [] { return false; });
        }
        EXPECT_TRUE(alarms.active(alarm_key)) << "three failures in a row: the delivery alarm";
        EXPECT_TRUE(mail_files(sink.dir).empty());
    }
    // Started again (a restart), with the server back.
    sink.start();
    {
        exporter::ExportScheduler sch(exports, s.query(), s.registry(), s.state(), paris, &alarms, targets, &s.outbox(),
                                      &model);
        exporter::OutboxSender sender(targets, s.outbox(), s.state(), &alarms, push);
        ASSERT_TRUE(sch.start(now));
        ASSERT_TRUE(sender.start(now));
        for (int i = 0; i < 5; ++i) {
            now += 11 * 60'000;
            sch.poll(now);
            sender.poll(now, [] { return false; });
        }
        EXPECT_EQ(sender.counters().sent, 1u);
        EXPECT_EQ(sender.counters().waiting, 0u);
        EXPECT_FALSE(alarms.active(alarm_key)) << "cleared by the delivery";
        EXPECT_EQ(sch.counters().files, 0u) << "the period was enqueued before the restart: not built again";
    }
    ASSERT_TRUE(wait_mail_count(sink.dir, 1, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto mails = mail_files(sink.dir);
    ASSERT_EQ(mails.size(), 1u) << "exactly once";
    const std::string parts = (dir.path() / "parts").string();
    const auto m = mail_parts(mails[0], parts);
    ASSERT_TRUE(m.is_object());
    EXPECT_EQ(m["subject"], "[report-it] summary-monthly-report_2026-11.pdf");
    EXPECT_EQ(m["from"], "gateway@report-it.example");
    EXPECT_EQ(m["envelope_to"], "boss@example.com, energy@example.com");
    EXPECT_EQ(m["message_id"], "<gridlet.monthly.summary-monthly-report_2026-11.pdf.report-it@gridlet>");
    ASSERT_EQ(m["parts"].size(), 2u) << m.dump();
    EXPECT_NE(m["parts"][0]["text"].get<std::string>().find("summary-monthly-report_2026-11.pdf"), std::string::npos);
    EXPECT_EQ(m["parts"][1]["filename"], "summary-monthly-report_2026-11.pdf");
    EXPECT_EQ(m["parts"][1]["content_type"], "application/pdf");
    EXPECT_EQ(m["parts"][1]["encoding"], "base64");
    const std::string pdf = slurp(parts + "/summary-monthly-report_2026-11.pdf");
    const std::string read = gridlet::test::pdf_text(pdf);
    EXPECT_NE(read.find("Summary report — November 2026"), std::string::npos) << read;
    EXPECT_NE(read.find("2 160.000"), std::string::npos) << "30 days x 72 kWh\n" << read;
    EXPECT_NE(read.find("324.00"), std::string::npos) << read;
}

TEST(ReportEmail, TheCommandListsTestsSendsAndWritesReports) {
    const std::string base = "/tmp/gridlet-report-it-" + std::to_string(getpid());
    run({"rm", "-rf", base});
    std::filesystem::create_directories(base);
    SmtpSink sink(base + "/mail");
    sink.start();
    const std::string site_text =
        "[site]\nname = \"report-cli\"\ntimezone = \"Europe/Paris\"\n\n[store]\npath = \"" + base +
        "/store\"\nretention_raw_days = 0\nretention_1m_days = 0\n" + kReportSiteModel + notifications(sink.port) +
        "\n[[reports]]\nname = \"monthly\"\ntype = \"summary\"\ntargets = [\"mail\"]\n"
        "\n[[reports]]\nname = \"hvac_detail\"\ntype = \"detailed\"\nformat = \"csv\"\nitems = [\"hvac\"]\n"
        "targets = [\"mail\"]\ndir = \"reports\"\n";
    const std::string file = base + "/site.toml";
    std::ofstream(file) << site_text;
    std::ostringstream csv;
    csv << "time,meter/ea,hvac/ea\n";
    for (int h = 0; h <= 30 * 24; ++h) {
        const TimeZone paris = *TimeZone::load("Europe/Paris");
        const int64_t t = *paris.parse_iso("2026-11-01T00:00") + h * 3'600'000LL;
        csv << paris.format_iso(t).substr(0, 16) << "," << h << "," << 2 * h << "\n";
    }
    const std::string data = base + "/data.csv";
    std::ofstream(data) << csv.str();
    ASSERT_EQ(run({gridlet_bin(), "store", "init", "--config", file}).code, 0);
    // Counters: the import needs their kind and unit.
    const Result imp = run({gridlet_bin(), "import", "--config", file, "--kind", "counter", "--unit", "kWh", data});
    ASSERT_EQ(imp.code, 0) << imp.err;

    const Result check = run({gridlet_bin(), "check", file});
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("2 reports, 1 export target"), std::string::npos) << check.out;

    const Result list = run({gridlet_bin(), "export", "--config", file, "--list"});
    ASSERT_EQ(list.code, 0) << list.err;
    EXPECT_NE(list.out.find("monthly\treport\tsummary\tmonthly\tpdf\ttarget mail"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("hvac_detail\treport\tdetailed\tmonthly\tcsv\tby point\titems hvac"), std::string::npos)
        << list.out;

    const Result test = run({gridlet_bin(), "export", "--config", file, "--test-targets"});
    ASSERT_EQ(test.code, 0) << test.out << test.err;
    EXPECT_NE(test.out.find("e-mailed gridlet-connectivity-test.txt to boss@example.com, energy@example.com"),
              std::string::npos)
        << test.out;
    ASSERT_TRUE(wait_mail_count(sink.dir, 1, 10));

    const Result send = run({gridlet_bin(), "export", "--config", file, "--name", "hvac_detail", "--from", "2026-11-01",
                             "--to", "2026-12-01", "--send"});
    ASSERT_EQ(send.code, 0) << send.err;
    EXPECT_NE(send.out.find("mail\tdetailed-monthly-report_2026-11.csv"), std::string::npos) << send.out;
    ASSERT_TRUE(wait_mail_count(sink.dir, 2, 10));
    const auto m = mail_parts(mail_files(sink.dir)[1], base + "/parts");
    EXPECT_EQ(m["subject"], "[report-cli] detailed-monthly-report_2026-11.csv") << m.dump();
    EXPECT_EQ(m["parts"][1]["content_type"], "text/csv");
    const std::string csv_report = slurp(base + "/parts/detailed-monthly-report_2026-11.csv");
    EXPECT_EQ(csv_report.substr(0, csv_report.find("\r\n", csv_report.find("\r\n") + 2)),
              "Date;hvac (kWh);hvac cost (EUR)\r\n2026-11-01;48,000;7,20")
        << csv_report;
    EXPECT_NE(csv_report.find("Total;1440,000;216,00\r\n"), std::string::npos) << csv_report;

    const Result out = run({gridlet_bin(), "export", "--config", file, "--name", "monthly", "--from", "2026-11-01",
                            "--to", "2026-12-01", "--out", base + "/out"});
    ASSERT_EQ(out.code, 0) << out.err;
    const std::string pdf = slurp(base + "/out/summary-monthly-report_2026-11.pdf");
    EXPECT_NE(gridlet::test::pdf_text(pdf).find("Summary report — November 2026"), std::string::npos) << out.out;

    // A server that refuses the message: the command fails with what it said.
    SmtpSink busy(base + "/busy");
    busy.p = std::make_unique<Process>(std::vector<std::string>{"/usr/bin/python3",
                                                                source_dir() + "/tests/support/smtp_sink.py", "--port",
                                                                std::to_string(busy.port), "--dir", busy.dir,
                                                                "--fail-first", "1"});
    ASSERT_TRUE(busy.p->wait_for_out("smtp sink on")) << busy.p->err();
    std::string busy_site = site_text;
    busy_site.replace(busy_site.find(std::to_string(sink.port)), std::to_string(sink.port).size(), std::to_string(busy.port));
    std::ofstream(base + "/busy.toml") << busy_site;
    const Result refused = run({gridlet_bin(), "export", "--config", base + "/busy.toml", "--name", "hvac_detail", "--from",
                                "2026-11-01", "--to", "2026-12-01", "--send"});
    EXPECT_EQ(refused.code, 1) << refused.err;
    EXPECT_NE(refused.err.find("the server refused: 451 busy, try again later"), std::string::npos) << refused.err;
    std::filesystem::remove_all(base);
}
