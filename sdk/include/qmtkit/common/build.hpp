// Compile-time opt-outs for firmware (docs/porting.md). All default to 1, which host builds
// keep; a firmware sets them to 0 for the whole build (the CMake options QMTKIT_TRACE and
// QMTKIT_NAMES do, on qmtkit::core and everything linking it):
//   QMTKIT_TRACE 0  the engine's trace hook is never called: no trace formatting, no secret
//                   masking, no trace buffer (set_trace() stays, and does nothing).
//   QMTKIT_NAMES 0  no text tables: a verbose "+CME ERROR: <text>" is Cme::unrecognised_text
//                   (the client asks for numeric codes, AT+CMEE=1), cme_name() and
//                   at::to_string(ErrorKind) answer a generic text.
//   QMTKIT_TENAUTH 0  no Tencent bring-up (AT+QMTTENAUTH, its token): configure() refuses a
//                   session with use_tenauth (qmt::Error::not_built). For Aliyun firmware.
//   QMTKIT_ALIAUTH 0  no Aliyun bring-up (AT+QMTCFG="aliauth"): use_aliauth refused likewise.
#pragma once

#ifndef QMTKIT_TRACE
#define QMTKIT_TRACE 1
#endif
#ifndef QMTKIT_NAMES
#define QMTKIT_NAMES 1
#endif
#ifndef QMTKIT_TENAUTH
#define QMTKIT_TENAUTH 1
#endif
#ifndef QMTKIT_ALIAUTH
#define QMTKIT_ALIAUTH 1
#endif
