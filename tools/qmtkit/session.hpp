// The session a `qmtkit pub` / `qmtkit sub` run brings up: from -h, -p, -i, -u and the password,
// or of one device of a manifest (--manifest FILE --device-name NAME | --imei N) through its
// cloud profile (docs/signing.md, "A device of a manifest"):
//
//   aliyun         the module signs: AT+QMTCFG="aliauth" (cloud::aliyun); with --sign-on-host
//                  the host signs (cloud::sign_aliyun) and the module gets only the result
//   tencent        (PSK) always signed on the host (cloud::sign_tencent): the module cannot
//   tencent-token  the module fetches the token: AT+QMTTENAUTH (cloud::tencent_token); with
//                  --sign-on-host the host fetches it (cloud::fetch_token)
//
// --broker HOST[:PORT] and --token-url URL override the manifest, as in `verify`. Everything is
// done before the port is opened. No secret is ever printed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "qmtkit/cloud/profile.hpp"
#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::cli {

class RunSession {
  public:
    RunSession() = default;
    RunSession(const RunSession&) = delete;
    RunSession& operator=(const RunSession&) = delete;

    // Views into this object and into the options it was made from.
    const qmt::Session& session() const { return session_; }

  private:
    friend std::unique_ptr<RunSession> make_run_session(const CommonOptions&, const std::string&,
                                                        const std::string&, int&);
    qmt::Session session_;
    cloud::ProfileStore profile_;
    std::string host_, client_id_, username_, password_;
    std::string product_, device_name_, secret_, url_;
};

// The session of the checked options `o` (check_common). nullptr when a manifest or a device of
// it is unusable: the lines are printed ("FILE:LINE:COL: ...", "qmtkit <tool>: ...") and
// `status` is the exit status (kExitManifest, kExitFailed). Throws UsageError for a device that
// is not in the manifest or an option that does not fit its cloud. `id_prefix`: the default
// client id's ("qmtkit-pub-").
std::unique_ptr<RunSession> make_run_session(const CommonOptions& o, const std::string& tool,
                                             const std::string& id_prefix, int& status);

// A manifest's problems on stderr: each "FILE:LINE:COL: ..." line, then
// "qmtkit <tool>: FILE: N error(s)"; `one_line` (pub, sub): the first one only, with how many
// more there are ("... (and 2 more error(s): qmtkit verify --manifest FILE --check-only lists
// them)").
void print_diagnostics(const std::string& tool, const std::string& file,
                       const std::vector<manifest::Diagnostic>& errors, bool one_line = false);

}  // namespace qmtkit::cli
