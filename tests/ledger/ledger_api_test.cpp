// The ledger's operations, backend-independent: this file runs in qmtkit_ledger_tests (SQLite
// files) and in qmtkit_ledger_pg_tests (databases of a real PostgreSQL server); ledger_url()
// says where.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qmtkit/manifest/manifest.hpp"
#include "support.hpp"

namespace {

namespace lg = qmtkit::ledger;
using qmtkit::test::imei_for;
using qmtkit::test::ledger_url;
using qmtkit::test::synthetic_batch;

lg::Ledger open_fresh(const std::string& name) {
    auto l = lg::Ledger::open(ledger_url(name));
    EXPECT_TRUE(l.ok()) << l.error().message;
    if (!l) throw std::runtime_error(l.error().message);
    return std::move(*l);
}

TEST(LedgerApi, OpenCreatesTheSchemaOnceAndReopens) {
    const std::string url = ledger_url("reopen");
    {
        auto l = lg::Ledger::open(url);
        ASSERT_TRUE(l) << l.error().message;
        ASSERT_TRUE(l->import_batch(synthetic_batch("pkReopen", 3)));
        EXPECT_EQ(*l->check(), "ok");
    }
    lg::OpenOptions existing;
    existing.create = false;
    auto again = lg::Ledger::open(url, existing);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->counts()->records, 3);
}

TEST(LedgerApi, ImportIsIdempotentAndRefusesOverlaps) {
    auto l = open_fresh("import");
    const auto spec = synthetic_batch("pkImport", 5, 2);
    auto a = l.import_batch(spec);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_TRUE(a->created);
    EXPECT_EQ(a->records, 5u);
    auto b = l.import_batch(spec);
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_FALSE(b->created);
    EXPECT_EQ(a->id, b->id);
    EXPECT_EQ(l.counts()->records, 5);

    // The same id with other records: refused.
    auto changed = spec;
    changed.records[4].device_name = "renamed";
    EXPECT_EQ(l.import_batch(changed).error().code, lg::Errc::batch_mismatch);
    // Another manifest holding a device of this batch: refused, nothing of it kept.
    auto overlap = synthetic_batch("pkOther", 3);
    overlap.records.push_back(spec.records[3]);
    overlap.manifest_id = lg::manifest_id_of(overlap.cloud, overlap.records);
    const auto e = l.import_batch(overlap);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, lg::Errc::record_in_other_batch);
    EXPECT_NE(e.error().message.find("pkImport/dev-00003"), std::string::npos) << e.error().message;
    EXPECT_EQ(l.counts()->batches, 1);
    EXPECT_EQ(l.counts()->records, 5);
    EXPECT_EQ(l.find_batch(overlap.manifest_id).error().code, lg::Errc::unknown_batch);
}

TEST(LedgerApi, BatchIdOfAManifestIgnoresSecrets) {
    const std::string text = R"({"cloud": "aliyun", "devices": [
        {"product_key": "a1PK", "device_name": "d1", "device_secret": "S1", "imei": "490154203237518"},
        {"product_key": "a1PK", "device_name": "d2", "device_secret": "S2"}]})";
    auto m1 = qmtkit::manifest::parse_manifest(text, "m.json");
    std::string other = text;
    other.replace(other.find("\"S1\""), 4, "\"XX\"");
    auto m2 = qmtkit::manifest::parse_manifest(other, "m.json");
    ASSERT_TRUE(m1.manifest && m2.manifest);
    const auto b1 = lg::batch_from_manifest(*m1.manifest);
    const auto b2 = lg::batch_from_manifest(*m2.manifest);
    EXPECT_EQ(b1.manifest_id, b2.manifest_id);
    EXPECT_EQ(b1.manifest_id.rfind("sha256:", 0), 0u);
    EXPECT_EQ(b1.manifest_id.size(), 7u + 64u);
    ASSERT_EQ(b1.records.size(), 2u);
    EXPECT_EQ(b1.records[0].imei, std::optional<std::string>("490154203237518"));
    EXPECT_EQ(b1.cloud, "aliyun");
    auto l = open_fresh("manifest");
    auto batch = l.import_batch(b1);
    ASSERT_TRUE(batch) << batch.error().message;
    auto bound = l.bind(batch->id, "490154203237518");
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound->record.device_name, "d1");
}

TEST(LedgerApi, BindListedThenNextUnboundThenAlreadyNeverRebinds) {
    auto l = open_fresh("bind");
    auto b = l.import_batch(synthetic_batch("pkBind", 4, 1));  // record 0 lists imei_for(0)
    ASSERT_TRUE(b);
    // An unlisted IMEI takes the lowest unbound record that lists no IMEI: 1, then 2.
    auto x = l.bind(b->id, imei_for(100), "st-A");
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_EQ(x->record.index, 1);
    EXPECT_FALSE(x->already);
    auto y = l.bind(b->id, imei_for(101));
    ASSERT_TRUE(y);
    EXPECT_EQ(y->record.index, 2);
    // The listed IMEI gets its record.
    auto listed = l.bind(b->id, imei_for(0));
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->record.index, 0);
    EXPECT_EQ(listed->record.listed_imei, std::optional<std::string>(imei_for(0)));
    // Again: the same record, already.
    for (int i = 0; i < 2; ++i) {
        auto again = l.bind(b->id, imei_for(100), "st-B");
        ASSERT_TRUE(again);
        EXPECT_TRUE(again->already);
        EXPECT_EQ(again->record.id, x->record.id);
    }
    auto z = l.bind(b->id, imei_for(102));
    ASSERT_TRUE(z);
    EXPECT_EQ(z->record.index, 3);
    const auto none = l.bind(b->id, imei_for(103));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, lg::Errc::no_record_left);
    const auto c = l.counts(b->id);
    EXPECT_EQ(c->bound, 4);
    EXPECT_EQ(c->unbound, 0);
    auto of = l.binding_of(imei_for(101));
    ASSERT_TRUE(of && *of);
    EXPECT_EQ((*of)->record.index, 2);
    EXPECT_FALSE(*l.binding_of(imei_for(999)));
    EXPECT_EQ(*l.check(), "ok");
}

TEST(LedgerApi, ListedRecordsAreReservedAndBatchesKeepTheirImeis) {
    auto l = open_fresh("reserved");
    auto b = l.import_batch(synthetic_batch("pkRes", 2, 2));  // both records list an IMEI
    ASSERT_TRUE(b);
    EXPECT_EQ(l.bind(b->id, imei_for(50)).error().code, lg::Errc::no_record_left);
    auto other = l.import_batch(synthetic_batch("pkRes2", 2));
    ASSERT_TRUE(other);
    // A batch's listed IMEI is not bound in another batch; a bound IMEI stays in its batch.
    EXPECT_EQ(l.bind(other->id, imei_for(1)).error().code, lg::Errc::imei_in_other_batch);
    ASSERT_TRUE(l.bind(other->id, imei_for(60)));
    EXPECT_EQ(l.bind(b->id, imei_for(60)).error().code, lg::Errc::imei_in_other_batch);
    EXPECT_EQ(l.bind(12345, imei_for(61)).error().code, lg::Errc::unknown_batch);
    EXPECT_EQ(l.bind(b->id, "").error().code, lg::Errc::invalid_argument);
}

TEST(LedgerApi, SecretsAreKeptOnceAndNeverExported) {
    auto l = open_fresh("secrets");
    auto b = l.import_batch(synthetic_batch("pkSec", 2));
    ASSERT_TRUE(b);
    auto r = l.bind(b->id, imei_for(7));
    ASSERT_TRUE(r);
    EXPECT_FALSE(*l.secret(r->record.id));
    ASSERT_TRUE(l.store_secret(r->record.id, "TOPSECRET-dyn-reg-1"));
    ASSERT_TRUE(l.store_secret(r->record.id, "TOPSECRET-dyn-reg-1"));  // the same again: fine
    EXPECT_EQ(l.store_secret(r->record.id, "TOPSECRET-other").error().code,
              lg::Errc::secret_conflict);
    EXPECT_EQ(l.store_secret(999999, "x").error().code, lg::Errc::unknown_record);
    EXPECT_EQ(**l.secret(r->record.id), "TOPSECRET-dyn-reg-1");
    EXPECT_EQ(l.counts()->secrets, 1);
    lg::Attempt a;
    a.imei = imei_for(7);
    a.record_id = r->record.id;
    a.result = lg::Outcome::provisioned;
    ASSERT_TRUE(l.record_attempt(b->id, a));
    for (auto f : {lg::ExportFormat::jsonl, lg::ExportFormat::csv}) {
        std::ostringstream out;
        ASSERT_TRUE(l.export_attempts(out, f));
        EXPECT_NE(out.str().find(imei_for(7)), std::string::npos);
        EXPECT_EQ(out.str().find("TOPSECRET"), std::string::npos) << out.str();
    }
}

TEST(LedgerApi, AttemptsExportEveryFieldAsJsonLinesAndCsv) {
    auto l = open_fresh("export");
    auto b = l.import_batch(synthetic_batch("pkExp", 3));
    ASSERT_TRUE(b);
    auto r = l.bind(b->id, imei_for(1), "line-2/fixture-3");
    ASSERT_TRUE(r);
    lg::Attempt ok;
    ok.time = "2024-05-01T08:30:00.123Z";
    ok.station = "line-2/fixture-3";
    ok.port = "/dev/ttyUSB1";
    ok.imei = imei_for(1);
    ok.imsi = "460001234567890";
    ok.iccid = "89860012345678901234";
    ok.firmware = "BC28JAR01A10";
    ok.record_id = r->record.id;
    ok.result = lg::Outcome::provisioned;
    ok.steps = {{"identify", 100.5}, {"write", 900}};
    auto id1 = l.record_attempt(b->id, ok);
    ASSERT_TRUE(id1) << id1.error().message;
    lg::Attempt bad;
    bad.station = "line-2/fixture-4";
    bad.port = "COM7";
    bad.imei = imei_for(2);
    bad.result = lg::Outcome::failed;
    bad.failed_step = "write";
    bad.reason = "+CME ERROR: 4, \"quoted\"";
    bad.steps = {{"identify", 80}};
    auto id2 = l.record_attempt(b->id, bad);
    ASSERT_TRUE(id2);
    EXPECT_GT(*id2, *id1);
    EXPECT_EQ(l.record_attempt(b->id + 100, bad).error().code, lg::Errc::unknown_batch);

    std::ostringstream jl;
    ASSERT_TRUE(l.export_attempts(jl, lg::ExportFormat::jsonl));
    std::istringstream in(jl.str());
    std::vector<nlohmann::json> rows;
    for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows)
        for (const auto& c : lg::export_columns()) EXPECT_TRUE(row.contains(c)) << c;
    EXPECT_EQ(rows[0]["attempt_id"], *id1);
    EXPECT_EQ(rows[0]["time"], "2024-05-01T08:30:00.123Z");
    EXPECT_EQ(rows[0]["batch"], b->manifest_id);
    EXPECT_EQ(rows[0]["cloud"], "aliyun");
    EXPECT_EQ(rows[0]["station"], "line-2/fixture-3");
    EXPECT_EQ(rows[0]["port"], "/dev/ttyUSB1");
    EXPECT_EQ(rows[0]["imei"], imei_for(1));
    EXPECT_EQ(rows[0]["imsi"], "460001234567890");
    EXPECT_EQ(rows[0]["iccid"], "89860012345678901234");
    EXPECT_EQ(rows[0]["firmware"], "BC28JAR01A10");
    EXPECT_EQ(rows[0]["record_index"], 0);
    EXPECT_EQ(rows[0]["product"], "pkExp");
    EXPECT_EQ(rows[0]["device_name"], "dev-00000");
    EXPECT_EQ(rows[0]["result"], "provisioned");
    EXPECT_EQ(rows[0]["steps"].size(), 2u);
    EXPECT_EQ(rows[0]["steps"][1]["step"], "write");
    EXPECT_DOUBLE_EQ(rows[0]["total_ms"].get<double>(), 1000.5);
    EXPECT_TRUE(rows[1]["record_index"].is_null());
    EXPECT_EQ(rows[1]["result"], "failed");
    EXPECT_EQ(rows[1]["failed_step"], "write");
    EXPECT_EQ(rows[1]["reason"], "+CME ERROR: 4, \"quoted\"");
    EXPECT_EQ(rows[1]["time"].get<std::string>().size(), 24u);  // filled in: now

    std::ostringstream csv;
    ASSERT_TRUE(l.export_attempts(csv, lg::ExportFormat::csv, b->id));
    const std::string text = csv.str();
    EXPECT_EQ(text.rfind("attempt_id,time,batch,cloud,station,port,imei,imsi,iccid,firmware,"
                         "record_index,product,device_name,result,failed_step,reason,steps,"
                         "total_ms\r\n",
                         0),
              0u)
        << text;
    EXPECT_NE(text.find(",\"+CME ERROR: 4, \"\"quoted\"\"\","), std::string::npos) << text;
    EXPECT_NE(text.find("\"[{\"\"step\"\":\"\"identify\"\",\"\"ms\"\":100.5}"), std::string::npos)
        << text;

    const auto c = l.counts(b->id);
    EXPECT_EQ(c->attempts, 2);
    EXPECT_EQ(c->provisioned, 1);
    EXPECT_EQ(c->failed, 1);
    EXPECT_EQ(c->already, 0);
}

}  // namespace
