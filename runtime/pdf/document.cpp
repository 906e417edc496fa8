#include "pdf/document.h"

#include <cairo-pdf.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gridlet::pdf {

Axis nice_axis(double min_value, double max_value) {
    double lo = std::min(0.0, std::isfinite(min_value) ? min_value : 0.0);
    double hi = std::max(0.0, std::isfinite(max_value) ? max_value : 0.0);
    if (hi - lo <= 0) hi = lo + 1;
    const double raw = (hi - lo) / 5;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * mag;
    for (double m : {1.0, 2.0, 5.0})
        if (m * mag >= raw * (1 - 1e-12)) {
            step = m * mag;
            break;
        }
    Axis a;
    a.step = step;
    a.bottom = std::floor(lo / step + 1e-9) * step;
    a.top = std::ceil(hi / step - 1e-9) * step;
    if (a.top <= a.bottom) a.top = a.bottom + step;
    return a;
}

std::vector<std::optional<Rect>> bar_rects(const std::vector<std::optional<double>>& values, const Rect& plot,
                                           const Axis& axis) {
    std::vector<std::optional<Rect>> out(values.size());
    if (values.empty() || axis.top <= axis.bottom) return out;
    const double slot = plot.w / static_cast<double>(values.size());
    const auto y_of = [&](double v) { return plot.y + plot.h * (axis.top - v) / (axis.top - axis.bottom); };
    const double zero = y_of(0);
    for (size_t i = 0; i < values.size(); ++i) {
        if (!values[i] || !std::isfinite(*values[i])) continue;
        const double y = y_of(std::clamp(*values[i], axis.bottom, axis.top));
        out[i] = Rect{plot.x + slot * (static_cast<double>(i) + 0.15), std::min(y, zero), slot * 0.7, std::fabs(zero - y)};
    }
    return out;
}

namespace {

constexpr double kPageW = 595.28, kPageH = 841.89;  // A4 in points
constexpr double kMargin = 48, kFooterH = 24;
constexpr double kBottom = kPageH - kMargin - kFooterH;
constexpr double kWidth = kPageW - 2 * kMargin;
constexpr const char* kFont = "DejaVu Sans";

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

// The number of bytes of the UTF-8 character starting at s[i].
size_t char_len(const std::string& s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return std::min(n, s.size() - i);
}

std::string tick_label(double v, double step) {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    if (std::fabs(v) < step * 1e-9) v = 0;
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

class Writer {
public:
    Writer(std::string* out, const Document& doc) : doc_(doc) {
        surface_ = cairo_pdf_surface_create_for_stream(&append, out, kPageW, kPageH);
        cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_TITLE, doc.title.c_str());
        cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATOR, "gridlet");
        if (!doc.date.empty()) {
            cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATE_DATE, doc.date.c_str());
            cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_MOD_DATE, doc.date.c_str());
        }
        cr_ = cairo_create(surface_);
    }
    ~Writer() {
        cairo_destroy(cr_);
        cairo_surface_destroy(surface_);
    }

    Status run() {
        y_ = kMargin;
        font(18, true);
        line_at(kMargin, y_ + 18, doc_.title);
        y_ += 26;
        font(9.5, false);
        grey(0.35);
        for (const std::string& l : wrap(doc_.subtitle, kWidth)) {
            line_at(kMargin, y_ + 10, l);
            y_ += 13;
        }
        black();
        y_ += 8;
        for (size_t i = 0; i < doc_.blocks.size(); ++i) {
            const Block& b = doc_.blocks[i];
            if (const auto* h = std::get_if<Heading>(&b)) heading(*h);
            else if (const auto* p = std::get_if<Paragraph>(&b)) paragraph(*p);
            else if (const auto* t = std::get_if<Table>(&b)) table(*t);
            else chart(std::get<BarChart>(b));
        }
        footer();
        cairo_show_page(cr_);
        cairo_surface_finish(surface_);
        const cairo_status_t st = cairo_surface_status(surface_);
        if (st != CAIRO_STATUS_SUCCESS) return Status::internal(std::string("PDF: cairo: ") + cairo_status_to_string(st));
        return Status::ok();
    }

private:
    void font(double size, bool bold) {
        cairo_select_font_face(cr_, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr_, size);
    }
    void grey(double g) { cairo_set_source_rgb(cr_, g, g, g); }
    void black() { grey(0); }
    double width_of(const std::string& s) {
        cairo_text_extents_t e;
        cairo_text_extents(cr_, s.c_str(), &e);
        return e.x_advance;
    }
    void line_at(double x, double baseline, const std::string& s) {
        cairo_move_to(cr_, x, baseline);
        cairo_show_text(cr_, s.c_str());
    }
    // `s` cut with "…" to fit `w`.
    std::string fit(const std::string& s, double w) {
        if (width_of(s) <= w) return s;
        std::string out;
        for (size_t i = 0; i < s.size();) {
            const size_t n = char_len(s, i);
            if (width_of(out + s.substr(i, n) + "…") > w) break;
            out += s.substr(i, n);
            i += n;
        }
        return out + "…";
    }
    std::vector<std::string> wrap(const std::string& text, double w) {
        std::vector<std::string> lines;
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            const std::string para = text.substr(start, end - start);
            std::string line;
            size_t i = 0;
            while (i < para.size()) {
                size_t j = para.find(' ', i);
                if (j == std::string::npos) j = para.size();
                const std::string word = para.substr(i, j - i);
                const std::string tried = line.empty() ? word : line + " " + word;
                if (width_of(tried) <= w || line.empty()) {
                    line = width_of(tried) <= w ? tried : fit(tried, w);
                } else {
                    lines.push_back(line);
                    line = width_of(word) <= w ? word : fit(word, w);
                }
                i = j + 1;
            }
            if (!para.empty() || end < text.size()) lines.push_back(line);
            start = end + 1;
        }
        return lines;
    }
    void footer() {
        font(7.5, false);
        grey(0.4);
        const double base = kPageH - kMargin + 4;
        line_at(kMargin, base, fit(doc_.footer, kWidth - 60));
        const std::string p = "Page " + std::to_string(page_);
        line_at(kMargin + kWidth - width_of(p), base, p);
        black();
    }
    void new_page() {
        footer();
        cairo_show_page(cr_);
        ++page_;
        y_ = kMargin;
    }
    void need(double h) {
        if (y_ + h > kBottom) new_page();
    }
    void heading(const Heading& h) {
        need(14 + 16 + 60);  // a heading is never the last line of a page
        y_ += 10;
        font(12.5, true);
        line_at(kMargin, y_ + 13, h.text);
        y_ += 22;
    }
    void paragraph(const Paragraph& p) {
        font(9, false);
        for (const std::string& l : wrap(p.text, kWidth)) {
            need(13);
            line_at(kMargin, y_ + 10, l);
            y_ += 13;
        }
        y_ += 6;
    }
    void table(const Table& t) {
        const size_t n = t.header.size();
        if (n == 0) return;
        std::vector<double> w(n, kWidth / static_cast<double>(n));
        if (t.widths.size() == n) {
            double sum = 0;
            for (double x : t.widths) sum += x;
            for (size_t i = 0; i < n; ++i) w[i] = kWidth * t.widths[i] / (sum > 0 ? sum : 1);
        }
        constexpr double row_h = 13, pad = 4;
        const auto draw_row = [&](const std::vector<std::string>& cells, bool bold, bool shaded) {
            if (shaded) {
                cairo_set_source_rgb(cr_, 0.90, 0.92, 0.95);
                cairo_rectangle(cr_, kMargin, y_, kWidth, row_h);
                cairo_fill(cr_);
                black();
            }
            font(8, bold);
            double x = kMargin;
            for (size_t i = 0; i < n; ++i) {
                const std::string s = fit(i < cells.size() ? cells[i] : std::string(), w[i] - 2 * pad);
                const double tx = i >= t.numbers_from ? x + w[i] - pad - width_of(s) : x + pad;
                line_at(tx, y_ + 9.5, s);
                x += w[i];
            }
            y_ += row_h;
        };
        const auto rule = [&](double width) {
            cairo_set_line_width(cr_, width);
            grey(0.6);
            cairo_move_to(cr_, kMargin, y_);
            cairo_line_to(cr_, kMargin + kWidth, y_);
            cairo_stroke(cr_);
            black();
        };
        need(row_h * 3);
        draw_row(t.header, true, true);
        for (size_t r = 0; r < t.rows.size(); ++r) {
            if (y_ + row_h > kBottom) {
                new_page();
                draw_row(t.header, true, true);
            }
            const bool total = t.last_row_total && r + 1 == t.rows.size();
            if (total) rule(0.8);
            draw_row(t.rows[r], total, false);
            if (!total) rule(0.2);
        }
        y_ += 10;
    }
    void chart(const BarChart& c) {
        constexpr double plot_h = 150, axis_w = 52, label_h = 16;
        need(18 + plot_h + label_h + 16);
        font(9.5, true);
        line_at(kMargin, y_ + 10, c.title + (c.unit.empty() ? "" : " (" + c.unit + ")"));
        y_ += 18;
        double lo = 0, hi = 0;
        size_t missing = 0;
        const size_t upcoming = std::min(c.upcoming, c.values.size());
        const size_t elapsed = c.values.size() - upcoming;
        for (size_t i = 0; i < c.values.size(); ++i) {
            const auto& v = c.values[i];
            if (!v) {
                missing += i < elapsed;
                continue;
            }
            lo = std::min(lo, *v);
            hi = std::max(hi, *v);
        }
        const Axis axis = nice_axis(lo, hi);
        const Rect plot{kMargin + axis_w, y_ + 4, kWidth - axis_w, plot_h};
        // Grid and value labels.
        font(7, false);
        cairo_set_line_width(cr_, 0.3);
        const int ticks = static_cast<int>(std::lround((axis.top - axis.bottom) / axis.step));
        for (int k = 0; k <= ticks; ++k) {
            const double v = axis.bottom + k * axis.step;
            const double y = plot.y + plot.h * (axis.top - v) / (axis.top - axis.bottom);
            grey(std::fabs(v) < axis.step * 1e-9 ? 0.3 : 0.8);
            cairo_move_to(cr_, plot.x, y);
            cairo_line_to(cr_, plot.x + plot.w, y);
            cairo_stroke(cr_);
            grey(0.3);
            const std::string s = tick_label(v, axis.step);
            line_at(plot.x - 4 - width_of(s), y + 2.5, s);
        }
        // Bars.
        const auto rects = bar_rects(c.values, plot, axis);
        cairo_set_source_rgb(cr_, 0.16, 0.42, 0.68);
        for (const auto& r : rects)
            if (r) cairo_rectangle(cr_, r->x, r->y, r->w, std::max(r->h, 0.3));
        cairo_fill(cr_);
        // Period labels, thinned to fit; a period without data is marked
        // with a grey "–" on the zero line.
        const double slot = c.values.empty() ? plot.w : plot.w / static_cast<double>(c.values.size());
        double widest = 0;
        for (const std::string& l : c.labels) widest = std::max(widest, width_of(l));
        const size_t every = std::max<size_t>(1, static_cast<size_t>(std::ceil((widest + 3) / std::max(slot, 1.0))));
        const double zero_y = plot.y + plot.h * axis.top / (axis.top - axis.bottom);
        for (size_t i = 0; i < c.values.size(); ++i) {
            const double cx = plot.x + slot * (static_cast<double>(i) + 0.5);
            if (!c.values[i] && i < elapsed) {
                grey(0.55);
                line_at(cx - width_of("–") / 2, zero_y - 2, "–");
            }
            if (i < c.labels.size() && i % every == 0) {
                grey(0.3);
                line_at(cx - width_of(c.labels[i]) / 2, plot.y + plot.h + 11, c.labels[i]);
            }
        }
        black();
        y_ = plot.y + plot.h + label_h;
        if (missing > 0 || upcoming > 0) {
            font(7.5, false);
            grey(0.35);
            std::string caption;
            if (missing > 0)
                caption = std::to_string(missing) + " of " + std::to_string(elapsed) + (upcoming > 0 ? " elapsed" : "") +
                          " periods without data (–): no bar, never a guess";
            if (upcoming > 0)
                caption += (caption.empty() ? "" : "; ") + std::to_string(upcoming) + " still to come";
            line_at(plot.x, y_ + 6, caption);
            black();
            y_ += 10;
        }
        y_ += 12;
    }

    const Document& doc_;
    cairo_surface_t* surface_ = nullptr;
    cairo_t* cr_ = nullptr;
    double y_ = kMargin;
    int page_ = 1;
};

}  // namespace

Expected<std::string> render(const Document& doc) {
    std::string out;
    {
        Writer w(&out, doc);
        if (Status st = w.run(); !st) return st;
    }
    return out;
}

}  // namespace gridlet::pdf
