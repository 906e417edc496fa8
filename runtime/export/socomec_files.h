// Socomec WEBVIEW data files, as the manual's Annex I (CSV) and Annex II (EMS)
// print them (../shared/seeds/003: "ANNEX I/II. EXAMPLE OF A DATA FILE
// PUBLISHED TO THE REMOTE SERVER"; notes: ../shared/spec/socomec-webview.md
// §7.3-7.5). Built as cell matrices (csv_writer.h), written in a dialect.
//
// Choices where the manual is silent or contradicts itself:
//   - EMS variable table: the figure shows the cells G-I of a row as
//     "100 %" | "/" | "/", the prose says "coefficient (cells G5 to G10) and
//     unit (cells H5 to H10)": written as Coef | Unit | Path = 100 | % | /,
//     the 12 header cells of row 4.
//   - EMS row 1, cell E: the figure crops it to "Pooling Ti"; written
//     "Pooling Time".
//   - The energy index data type has no EMS name in the manual: "Index".
//   - Blank rows (3 and 11 of the EMS file) are empty lines; rows carry
//     their own cells only (no trailing delimiters to pad the grid).
//   - Names in a file name have '_' (the field separator), '/', '\' and
//     control characters replaced by '-', so the name splits back into its
//     six fields; the cells inside the file keep the names as they are.
//   - Timestamps are local ("Datation: Local") without an offset, as in
//     both annexes; in the hour repeated when DST ends two rows can carry
//     the same text (the manual's format cannot tell them apart; the EMS
//     header names the zone).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/timezone.h"
#include "export/csv_writer.h"

namespace gridlet::exporter::socomec {

// WEBVIEW's data types (manual §9.9 Planning): measurements (averages),
// load curves (demand), energy index.
enum class DataType { avg, load_curve, index };
// "Avg", "LoadCurve", "Index": the EMS "Data Type" cell and file-name field.
const char* ems_name(DataType t);
Expected<DataType> parse_data_type(std::string_view text);  // "avg", "load_curve", "index" (also the EMS names)

// "2019-01-18T15:14:00": local time, no offset (both annexes).
std::string local_timestamp(int64_t utc_ms, const TimeZone& tz);

// ---- EMS (Annex II)

struct EmsHeader {
    DataType type = DataType::avg;
    std::string time_zone = "UTC";  // the "TimeZone" cell: the site's zone name
    int64_t transfer_cycle_s = 600;  // the export period
    std::string site, server;        // "Site name", "Server name"
};

struct EmsVariable {
    std::string type = "ANA";   // "ANA" (analog) in the annex
    std::string name;           // "<quantity> of <circuit> of <device>"
    std::string fluid = "ELEC";
    std::string use;            // the usage code ("Use2")
    double coef = 1;            // written value = round(value × coef); read back ÷ coef
    std::string unit;
    std::string path = "/";
    int64_t device_id = 0;      // the gateway's own device number (not the Modbus address)
    int64_t index = 1;          // the load's index in the device
    int64_t data_id = 0;        // the vendor's measurement id
};

// One value of a variable: engineering units, OPC DA quality (192 good).
struct Reading {
    int64_t ts_ms = 0;
    double value = 0;
    uint8_t quality = 192;
};

// "<site> <server> <device id> <index> <type> <data id>": the import key.
std::string ems_key(const EmsHeader& h, const EmsVariable& v);

// The file: rows 1-2 header, blank, the variable table (Index Key 0, 1, ...
// in the order given), blank, the data block: grouped by Index Key
// ascending, newest first within each; value = round(value × coef), an
// integer. readings[i] belongs to variables[i], in any order.
void ems_rows(RowSink& out, const EmsHeader& h, const std::vector<EmsVariable>& variables,
              const std::vector<std::vector<Reading>>& readings, const TimeZone& tz);
CellMatrix ems_matrix(const EmsHeader& h, const std::vector<EmsVariable>& variables,
                      const std::vector<std::vector<Reading>>& readings, const TimeZone& tz);

// "<site>_<server>_<device>_<type>_<YYYY-MM-DD>_<hh-mm-ss>.csv", the export
// time in local time; see the choices above for names holding '_'.
std::string ems_file_name(const std::string& site, const std::string& server, const std::string& device,
                          DataType type, int64_t export_ms, const TimeZone& tz);
// A name made safe for one field of a file name.
std::string file_name_field(const std::string& name);

// ---- CSV (Annex I)

struct CsvDevice {
    std::string name;                 // "Device name"
    std::string ip = "0.0.0.0";       // a device on a bus has none
    std::string modbus_address;
    int64_t begin_ms = 0, end_ms = 0;  // the export window
};

// One column: a quantity of a load.
struct CsvColumn {
    std::string load;            // "Load Name"
    std::string usage;           // "Usage": the usage's name
    std::string nature = "Elec"; // "Nature": the fluid (Elec, Gas, Water)
    std::string measured_value;  // "EA+", "EA-", ...
    std::string unit;            // "Wh"
    double scale = 1;            // written value × scale = value
};

struct CsvLine {
    int64_t ts_ms = 0;
    std::vector<std::optional<double>> values;  // one per column; nullopt: an empty cell
};

// The file: device header (rows 1-2), the six descriptor rows (Scale with 7
// decimals), then one row per timestamp, newest first (lines in any order).
void csv_rows(RowSink& out, const CsvDevice& device, const std::vector<CsvColumn>& columns, std::vector<CsvLine> lines,
              const TimeZone& tz, const CsvDialect& dialect);
CellMatrix csv_matrix(const CsvDevice& device, const std::vector<CsvColumn>& columns, std::vector<CsvLine> lines,
                      const TimeZone& tz, const CsvDialect& dialect);

}  // namespace gridlet::exporter::socomec
