// Reading sheets: quoting, comments, blank rows, line numbers, CRLF, BOM, TSV.
#include <gtest/gtest.h>

#include "sweep/sheet.h"

namespace sw = scalelab::sweep;

TEST(Sheet, QuotesCommentsAndBlankRows) {
  const std::string text =
      "# a comment with a stray \" quote, and a comma\n"
      "Name, ARCH ,layers\n"
      "\n"
      "a,\"hybrid(lightning,softmax@7:1)\",8\n"
      "  # indented comment\n"
      ",,\n"
      "\"# quoted comment, with a comma\",,\n"
      "b,\"say \"\"hi\"\"\",  16  \n";
  const sw::Sheet s = sw::parse_sheet(text, "t.csv", ',');
  EXPECT_EQ(s.header_line, 2);
  EXPECT_EQ(s.columns, (std::vector<std::string>{"name", "arch", "layers"}));
  ASSERT_EQ(s.rows.size(), 2u);
  EXPECT_EQ(s.rows[0].line, 4);
  EXPECT_EQ(s.rows[0].cells, (std::vector<std::string>{"a", "hybrid(lightning,softmax@7:1)", "8"}));
  EXPECT_EQ(s.rows[1].line, 8);
  EXPECT_EQ(s.rows[1].cells, (std::vector<std::string>{"b", "say \"hi\"", "16"}));
}

TEST(Sheet, MultiLineCellKeepsLineNumbers) {
  const std::string text = "name,arch\n\"two\nlines\",softmax\nc,lightning\n";
  const sw::Sheet s = sw::parse_sheet(text, "t.csv", ',');
  ASSERT_EQ(s.rows.size(), 2u);
  EXPECT_EQ(s.rows[0].line, 2);
  EXPECT_EQ(s.rows[0].cells[0], "two\nlines");
  EXPECT_EQ(s.rows[1].line, 4);
}

TEST(Sheet, CrlfBomAndNoFinalNewline) {
  const std::string text = "\xEF\xBB\xBFname,arch\r\n\r\na,softmax\r\nb,mamba2";
  const sw::Sheet s = sw::parse_sheet(text, "t.csv", ',');
  EXPECT_EQ(s.columns.front(), "name");
  ASSERT_EQ(s.rows.size(), 2u);
  EXPECT_EQ(s.rows[0].line, 3);
  EXPECT_EQ(s.rows[1].line, 4);
  EXPECT_EQ(s.rows[1].cells, (std::vector<std::string>{"b", "mamba2"}));
}

TEST(Sheet, Tsv) {
  const std::string text = "name\tarch\tlayers\na b\thybrid(lightning,softmax@7:1)\t8\n";
  EXPECT_EQ(sw::sniff_delimiter("x.txt", text), '\t');
  EXPECT_EQ(sw::sniff_delimiter("x.tsv", "a,b"), '\t');
  // A .csv is sniffed too: LibreOffice saves ';' or tab separated ".csv" files.
  EXPECT_EQ(sw::sniff_delimiter("x.csv", text), '\t');
  const sw::Sheet s = sw::parse_sheet(text, "t.tsv", '\t');
  ASSERT_EQ(s.rows.size(), 1u);
  EXPECT_EQ(s.rows[0].cells, (std::vector<std::string>{"a b", "hybrid(lightning,softmax@7:1)", "8"}));
}

TEST(Sheet, MalformedQuotesAreErrors) {
  try {
    sw::parse_sheet("name,arch\na,soft\"max\n", "t.csv", ',');
    FAIL() << "no error";
  } catch (const sw::SheetErrors& e) {
    EXPECT_EQ(std::string(e.what()),
              "t.csv:2: malformed CSV: a quote inside an unquoted cell or text after a closing "
              "quote (quote the whole cell and double inner quotes)");
  }
  try {
    sw::parse_sheet("name,arch\nx,y\n\"a,softmax\nb,c\n", "t.csv", ',');
    FAIL() << "no error";
  } catch (const sw::SheetErrors& e) {
    EXPECT_EQ(std::string(e.what()), "t.csv:3: malformed CSV: a quoted cell is never closed");
  }
  EXPECT_THROW(sw::parse_sheet("# only a comment\n\n", "t.csv", ','), sw::SheetErrors);
  EXPECT_THROW(sw::read_sheet("/nonexistent/sheet.csv"), sw::SheetErrors);
}

TEST(Sheet, CsvCellQuotesOnlyWhenNeeded) {
  EXPECT_EQ(sw::csv_cell("softmax"), "softmax");
  EXPECT_EQ(sw::csv_cell("hybrid(lightning,softmax@7:1)"), "\"hybrid(lightning,softmax@7:1)\"");
  EXPECT_EQ(sw::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(sw::csv_cell("a,b", '\t'), "a,b");
  EXPECT_EQ(sw::csv_cell(" pad"), "\" pad\"");
}
