// The property checks of the two decoder harnesses (recv_fuzz.cpp, manifest_fuzz.cpp), kept out
// of the libFuzzer entry points so the normal test run replays the same checks over the seeds
// and regressions (decoder_corpus_test.cpp). Each returns the first property the input broke,
// as "<id> <name>: <what>", or an empty string when it kept them all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qmtkit::fuzz {

// Byte 0 chooses the +QMTRECV quoting (bits 0-1) and the overflow head's capacity (bits 2-7);
// the rest is module output: +QMTRECV claims are driven from each line that starts with the
// prefix, and every line goes through the SDK's result-line decoders. See README.md.
std::string check_recv_case(const std::uint8_t* data, std::size_t size);

// The input is a manifest document, parsed by qmtkit::manifest::parse_manifest() and by its JSON
// parser alone (json_pos), and compared with nlohmann/json. Host builds with the manifest only.
std::string check_manifest_case(const std::uint8_t* data, std::size_t size);

}  // namespace qmtkit::fuzz
