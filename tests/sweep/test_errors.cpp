// Every bad cell of a sheet is reported at once, as file:row:column: message.
#include <gtest/gtest.h>

#include "sweep/planner.h"

namespace sw = scalelab::sweep;

namespace {
// The full error text of planning TEXT, or "no error".
std::string errors_of(const std::string& text) {
  try {
    sw::plan_sheet(sw::parse_sheet(text, "s.csv", ','));
  } catch (const sw::SheetErrors& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(SheetErrors, AllErrorsOfASheetAtOnce) {
  const std::string text =
      "name,arch,layers,d_model,heads,tokens,flops,d_modle\n"
      "a,softmax,twelve,64,4,1M,,\n"
      "b,softmax,2,512..256*2,4,1M,,\n"
      "c,softmax,2,64,4,1M,1e18,\n"
      "d,softmax,2,512,12,1M,,\n"
      "e,transformer,2,64,4,1M,,\n"
      "f,softmax,2,64,4,1M,,\n";
  EXPECT_EQ(errors_of(text),
            "s.csv:1:d_modle: unknown column 'd_modle'; did you mean 'd_model'?\n"
            "s.csv:2:layers: bad number 'twelve'\n"
            "s.csv:3:d_model: empty range '512..256*2' (start is above stop)\n"
            "s.csv:4:flops: conflicting token budgets: tokens and flops are both set; give "
            "exactly one of tokens, tokens_per_param, flops\n"
            "s.csv:5:heads: heads (12) must divide d_model (512)\n"
            "s.csv:6:arch: unknown mixer 'transformer' (expected softmax, lightning, hgrn2, "
            "mamba2, swa, gdn or hybrid(A,B@pattern))");
}

TEST(SheetErrors, HeaderProblems) {
  EXPECT_EQ(errors_of("name,layers,tokens,colour\nx,2,1M,red\n"),
            "s.csv:1:colour: unknown column 'colour' (`scalelab plan --help` lists the known ones)\n"
            "s.csv:1:arch: missing column 'arch' (every run needs an architecture)");
  EXPECT_EQ(errors_of("arch,layers\nsoftmax,2\n"),
            "s.csv:1:tokens: no token budget column: add one of tokens, tokens_per_param, flops\n"
            "s.csv:2:tokens: no token budget: set one of tokens, tokens_per_param, flops");
  EXPECT_EQ(errors_of("arch,tokens,arch\nsoftmax,1M,mamba2\n"),
            "s.csv:1:arch: column 'arch' appears twice");
  EXPECT_EQ(errors_of("arch,tokens\nsoftmax,1M,oops\n"),
            "s.csv:2: cell 3 ('oops') has no column name in the header");
}

TEST(SheetErrors, ZipScheduleAndRunFields) {
  EXPECT_EQ(errors_of("arch,layers,d_model,tokens\nsoftmax,zip:2|4,zip:64|128|256,1M\n"),
            "s.csv:2:d_model: zip group has 2 values in layers but 3 here");
  EXPECT_EQ(errors_of("arch,tokens,schedule\nsoftmax,1M,cosine|linear\n"),
            "s.csv:2:schedule: unknown schedule 'linear' (cosine, wsd, constant)");
  EXPECT_EQ(errors_of("arch,tokens,seq_len,batch_tokens,lr\nsoftmax,1M,2048,1024,-1\n"),
            "s.csv:2:batch_tokens: batch_tokens (1024) is smaller than seq_len (2048)\n"
            "s.csv:2:lr: lr must be positive, got -1");
  EXPECT_EQ(errors_of("arch,layers,tokens\n\"hybrid(lightning,softmax@7:1)\",12,1M\n"),
            "s.csv:2:arch: hybrid ratio 7:1 repeats every 8 layers; layers (12) is not a "
            "multiple of 8");
  EXPECT_EQ(errors_of("arch,d_model,tokens_per_param\nsoftmax,64,1e-9\n"),
            "s.csv:2:tokens_per_param: token budget gives 0 tokens; it must give at least 1");
}

TEST(SheetErrors, BadDefaultsCellIsReportedOnceAtItsRow) {
  EXPECT_EQ(errors_of("name,arch,d_model,tokens\n"
                      "defaults,softmax,sixty-four,1M\n"
                      "a,,,\n"
                      "b,lightning,,\n"),
            "s.csv:2:d_model: bad number 'sixty-four'");
}

TEST(SheetErrors, ManyErrorsAreCappedAndCounted) {
  std::string text = "arch,layers,tokens\n";
  for (int i = 0; i < 250; ++i) text += "softmax,x" + std::to_string(i) + ",1M\n";
  const std::string e = errors_of(text);
  EXPECT_NE(e.find("s.csv:2:layers: bad number 'x0'\n"), std::string::npos);
  EXPECT_NE(e.find("s.csv:201:layers: bad number 'x199'\n"), std::string::npos);
  EXPECT_EQ(e.find("'x200'"), std::string::npos);
  EXPECT_EQ(e.substr(e.rfind('\n') + 1), "s.csv: 50 more errors not shown");
}

// A bad number used to end the row's checks: its unknown architecture and
// its shape errors went unreported until the number was fixed (issue 19).
TEST(SheetErrors, ABadNumberDoesNotHideTheRowsOtherErrors) {
  EXPECT_EQ(errors_of("name,arch,layers,d_model,heads,tokens,lr\n"
                      "a,transformer,2,64,4,1M,fast\n"
                      "b,softmax,2,64,3,1M,fast\n"
                      "c,softmax,two,64,3,1M,1e-3\n"),
            "s.csv:2:lr: bad number 'fast'\n"
            "s.csv:2:arch: unknown mixer 'transformer' (expected softmax, lightning, hgrn2, "
            "mamba2, swa, gdn or hybrid(A,B@pattern))\n"
            "s.csv:3:lr: bad number 'fast'\n"
            "s.csv:3:heads: heads (3) must divide d_model (64)\n"
            "s.csv:4:layers: bad number 'two'\n"
            "s.csv:4:heads: heads (3) must divide d_model (64)");
  // A bad shape does not hide a bad budget either.
  EXPECT_EQ(errors_of("arch,heads,d_model,tokens\nsoftmax,3,64,-5\n"),
            "s.csv:2:heads: heads (3) must divide d_model (64)\n"
            "s.csv:2:tokens: token budget gives -5 tokens; it must give at least 1");
}

// A 50 MB cell once made a 100 MB error message: cells are quoted short.
TEST(SheetErrors, LongCellsAreQuotedShort) {
  const std::string cell(50 << 20, '7');
  const std::string e = errors_of("arch,layers,tokens\nsoftmax,x" + cell + ",1M\n");
  EXPECT_LT(e.size(), 600u) << e.substr(0, 600);
  EXPECT_NE(e.find("s.csv:2:layers: bad number 'x7777"), std::string::npos) << e.substr(0, 600);
  EXPECT_NE(e.find("(52428801 characters)"), std::string::npos) << e.substr(0, 600);
}
