// What a PDF says, read back by poppler's pdftotext and pdfinfo (Debian's
// poppler-utils, installed by .ci/setup): the tests check reports by their
// text, as a reader sees it, not by cairo's bytes.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace gridlet::test {

inline std::string run_on_pdf(const std::string& command, const std::string& pdf, const std::string& after = "") {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("gridlet-pdf-" + std::to_string(::getpid()) + ".pdf")).string();
    {
        std::ofstream f(path, std::ios::binary);
        f << pdf;
    }
    std::string out;
    if (FILE* p = ::popen((command + " '" + path + "' " + after + " 2>&1").c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
    }
    std::filesystem::remove(path);
    return out;
}

// The text of every page, laid out as on the page (pdftotext -layout);
// pages are separated by a form feed.
inline std::string pdf_text(const std::string& pdf) { return run_on_pdf("pdftotext -layout", pdf, "-"); }

// The number of pages (pdfinfo), 0 when the file is not a PDF.
inline int pdf_pages(const std::string& pdf) {
    const std::string info = run_on_pdf("pdfinfo", pdf);
    const size_t at = info.find("Pages:");
    return at == std::string::npos ? 0 : std::stoi(info.substr(at + 6));
}

}  // namespace gridlet::test
