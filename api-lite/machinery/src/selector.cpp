#include "deckhand/api/selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "deckhand/api/validation.h"
#include "go_format.h"

namespace deckhand::api {

namespace {

using Op = LabelSelector::Op;
using Requirement = LabelSelector::Requirement;

// ---- label selector lexer ----

enum class Token { Identifier, Comma, Equals, DoubleEquals, NotEquals, Bang, Open, Close, Gt, Lt, End };

struct Lexeme {
  Token token = Token::End;
  std::string text;
  std::size_t start = 0;  // offset in the selector text
};

bool is_special(char c) {
  return c == ',' || c == '=' || c == '!' || c == '(' || c == ')' || c == '<' || c == '>';
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::vector<Lexeme> lex(const std::string& text) {
  std::vector<Lexeme> out;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    auto two = std::string_view(text).substr(i, 2);
    Lexeme l{Token::Identifier, {}, i};
    if (two == "==") {
      l = {Token::DoubleEquals, "==", i};
    } else if (two == "!=") {
      l = {Token::NotEquals, "!=", i};
    } else if (is_special(c)) {
      static const std::pair<char, Token> kSingles[] = {{',', Token::Comma}, {'=', Token::Equals},
                                                        {'!', Token::Bang},  {'(', Token::Open},
                                                        {')', Token::Close}, {'>', Token::Gt},
                                                        {'<', Token::Lt}};
      for (const auto& [ch, tok] : kSingles) {
        if (ch == c) l = {tok, std::string(1, c), i};
      }
    } else {
      std::size_t end = i;
      while (end < text.size() && !is_space(text[end]) && !is_special(text[end])) ++end;
      l.text = text.substr(i, end - i);
    }
    i += l.text.size();
    out.push_back(std::move(l));
  }
  out.push_back({Token::End, "", text.size()});
  return out;
}

// ---- label selector parser ----

class LabelParser {
 public:
  explicit LabelParser(const std::string& text) : text_(text), lexemes_(lex(text)) {}

  Result<std::vector<Requirement>> parse() {
    std::vector<Requirement> out;
    if (peek().token == Token::End) return out;
    while (true) {
      DH_TRY(requirement, parse_requirement());
      out.push_back(std::move(requirement));
      const Lexeme& after = next();
      if (after.token == Token::End) return out;
      if (after.token != Token::Comma) return error(after, "',' or 'end of string'");
    }
  }

 private:
  const Lexeme& peek() const { return lexemes_[pos_]; }
  const Lexeme& next() {
    const Lexeme& l = lexemes_[pos_];
    if (pos_ + 1 < lexemes_.size()) ++pos_;
    return l;
  }

  // The requirement being parsed: from its start to the next ',' outside parentheses.
  std::string current_term() const {
    int depth = 0;
    std::size_t end = term_start_;
    for (; end < text_.size(); ++end) {
      if (text_[end] == '(') ++depth;
      if (text_[end] == ')') --depth;
      if (text_[end] == ',' && depth <= 0) break;
    }
    std::string term = text_.substr(term_start_, end - term_start_);
    while (!term.empty() && is_space(term.back())) term.pop_back();
    return term;
  }

  tl::unexpected<Error> error(const Lexeme& found, const std::string& expected) const {
    std::string what = found.token == Token::End ? "end of string" : found.text;
    return fail(ErrorKind::InvalidArgument, "unable to parse requirement: found '{}', expected: {} in {}", what,
                expected, go_quote(current_term()));
  }

  tl::unexpected<Error> invalid(const std::string& field, const std::string& value, const std::string& why) const {
    return fail(ErrorKind::InvalidArgument, "unable to parse requirement: {}: Invalid value: {}: {}", field,
                go_quote(value), why);
  }

  Result<Requirement> parse_requirement() {
    term_start_ = peek().start;
    Requirement r;
    if (peek().token == Token::Bang) {
      next();
      r.op = Op::DoesNotExist;
    }
    const Lexeme& key = next();
    if (key.token != Token::Identifier) return error(key, r.op == Op::DoesNotExist ? "identifier after '!'" : "identifier");
    r.key = key.text;
    if (auto errs = qualified_name_errors(r.key); !errs.empty()) return invalid("key", r.key, errs.front());
    if (r.op == Op::DoesNotExist) return r;
    const Token t = peek().token;
    if (t == Token::Comma || t == Token::End) {
      r.op = Op::Exists;
      return r;
    }
    const Lexeme& op = next();
    if (op.token == Token::Equals || op.token == Token::DoubleEquals || op.token == Token::NotEquals) {
      r.op = op.token == Token::NotEquals ? Op::NotEquals : Op::Equals;
      r.values.push_back(peek().token == Token::Identifier ? next().text : std::string());
    } else if (op.token == Token::Gt || op.token == Token::Lt) {
      r.op = op.token == Token::Gt ? Op::Gt : Op::Lt;
      const Lexeme& value = next();
      if (value.token != Token::Identifier) return error(value, "an integer");
      r.values.push_back(value.text);
    } else if (op.token == Token::Identifier && (op.text == "in" || op.text == "notin")) {
      r.op = op.text == "in" ? Op::In : Op::NotIn;
      DH_TRY(values, parse_value_set());
      r.values = std::move(values);
    } else {
      return error(op, "in, notin, =, ==, !=, gt, lt");
    }
    DH_CHECK(check_values(r));
    return r;
  }

  Result<std::vector<std::string>> parse_value_set() {
    const Lexeme& open = next();
    if (open.token != Token::Open) return error(open, "'('");
    std::vector<std::string> values;
    if (peek().token == Token::Close) {
      next();
      return values;
    }
    while (true) {
      // An empty value between commas is the empty string, as in Kubernetes.
      values.push_back(peek().token == Token::Identifier ? next().text : std::string());
      const Lexeme& sep = next();
      if (sep.token == Token::Close) return values;
      if (sep.token != Token::Comma) return error(sep, "',' or ')'");
    }
  }

  Status check_values(const Requirement& r) const {
    if ((r.op == Op::In || r.op == Op::NotIn) && r.values.empty()) {
      return fail(ErrorKind::InvalidArgument,
                  "unable to parse requirement: values: Invalid value: []: for 'in', 'notin' operators, values set "
                  "can't be empty (in {})",
                  go_quote(current_term()));
    }
    for (std::size_t i = 0; i < r.values.size(); ++i) {
      const std::string& v = r.values[i];
      if (r.op == Op::Gt || r.op == Op::Lt) {
        long long n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || end != v.data() + v.size()) {
          return invalid(fmt::format("values[{}]", i), v, "for 'Gt', 'Lt' operators, the value must be an integer");
        }
        continue;
      }
      if (auto errs = label_value_errors(v); !errs.empty()) {
        return invalid(fmt::format("values[{}][{}]", i, r.key), v, errs.front());
      }
    }
    return {};
  }

  const std::string& text_;
  std::vector<Lexeme> lexemes_;
  std::size_t pos_ = 0;
  std::size_t term_start_ = 0;
};

std::optional<long long> to_integer(const std::string& s) {
  long long n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

bool requirement_matches(const Requirement& r, const std::map<std::string, std::string>& labels) {
  auto it = labels.find(r.key);
  const bool has = it != labels.end();
  auto in_values = [&] { return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end(); };
  switch (r.op) {
    case Op::Equals:
    case Op::In:
      return in_values();
    case Op::NotEquals:
    case Op::NotIn:
      return !in_values();
    case Op::Exists:
      return has;
    case Op::DoesNotExist:
      return !has;
    case Op::Gt:
    case Op::Lt: {
      if (!has || r.values.size() != 1) return false;
      auto have = to_integer(it->second);
      auto want = to_integer(r.values[0]);
      if (!have || !want) return false;
      return r.op == Op::Gt ? *have > *want : *have < *want;
    }
  }
  return false;
}

std::string requirement_string(const Requirement& r) {
  std::vector<std::string> values = r.values;
  std::sort(values.begin(), values.end());
  auto first = values.empty() ? std::string() : values[0];
  switch (r.op) {
    case Op::Equals: return r.key + "=" + first;
    case Op::NotEquals: return r.key + "!=" + first;
    case Op::In: return r.key + " in (" + fmt::format("{}", fmt::join(values, ",")) + ")";
    case Op::NotIn: return r.key + " notin (" + fmt::format("{}", fmt::join(values, ",")) + ")";
    case Op::Exists: return r.key;
    case Op::DoesNotExist: return "!" + r.key;
    case Op::Gt: return r.key + ">" + first;
    case Op::Lt: return r.key + "<" + first;
  }
  return r.key;
}

Result<Op> expression_operator(const Json& op) {
  static const std::pair<const char*, Op> kOps[] = {
      {"In", Op::In}, {"NotIn", Op::NotIn}, {"Exists", Op::Exists}, {"DoesNotExist", Op::DoesNotExist}};
  if (op.is_string()) {
    for (const auto& [name, value] : kOps) {
      if (op.get_ref<const std::string&>() == name) return value;
    }
  }
  return fail(ErrorKind::InvalidArgument, "{} is not a valid label selector operator", go_value(op));
}

Result<Requirement> expression_requirement(const Json& expr) {
  if (!expr.is_object() || !expr.contains("key") || !expr["key"].is_string()) {
    return fail(ErrorKind::InvalidArgument, "matchExpressions: each expression needs a string key");
  }
  Requirement r;
  r.key = expr["key"].get<std::string>();
  DH_TRY(op, expression_operator(expr.contains("operator") ? expr["operator"] : Json()));
  r.op = op;
  if (expr.contains("values") && !expr["values"].is_null()) {
    if (!expr["values"].is_array()) return fail(ErrorKind::InvalidArgument, "matchExpressions: values must be a list");
    for (const auto& v : expr["values"]) {
      if (!v.is_string()) return fail(ErrorKind::InvalidArgument, "matchExpressions: values must be strings");
      r.values.push_back(v.get<std::string>());
    }
  }
  if ((op == Op::In || op == Op::NotIn) && r.values.empty()) {
    return fail(ErrorKind::InvalidArgument,
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty (key {})",
                go_quote(r.key));
  }
  if ((op == Op::Exists || op == Op::DoesNotExist) && !r.values.empty()) {
    return fail(ErrorKind::InvalidArgument,
                "values: Invalid value: {}: values set must be empty for exists and does not exist (key {})",
                go_value(expr["values"]), go_quote(r.key));
  }
  return r;
}

Status check_requirement_names(const Requirement& r) {
  if (auto errs = qualified_name_errors(r.key); !errs.empty()) {
    return fail(ErrorKind::InvalidArgument, "key: Invalid value: {}: {}", go_quote(r.key), errs.front());
  }
  for (std::size_t i = 0; i < r.values.size(); ++i) {
    if (auto errs = label_value_errors(r.values[i]); !errs.empty()) {
      return fail(ErrorKind::InvalidArgument, "values[{}][{}]: Invalid value: {}: {}", i, r.key,
                  go_quote(r.values[i]), errs.front());
    }
  }
  return {};
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelParser parser(text);
  DH_TRY(requirements, parser.parse());
  LabelSelector s;
  s.requirements_ = std::move(requirements);
  return s;
}

Result<LabelSelector> LabelSelector::from_json(const Json& selector) {
  LabelSelector s;
  if (selector.is_null()) {
    s.matches_nothing_ = true;
    return s;
  }
  if (!selector.is_object()) return fail(ErrorKind::InvalidArgument, "a label selector must be an object");
  if (selector.contains("matchLabels") && !selector["matchLabels"].is_null()) {
    const Json& labels = selector["matchLabels"];
    if (!labels.is_object()) return fail(ErrorKind::InvalidArgument, "matchLabels must be a map of strings");
    for (const auto& [key, value] : labels.items()) {
      if (!value.is_string()) return fail(ErrorKind::InvalidArgument, "matchLabels[{}] must be a string", key);
      s.requirements_.push_back({key, Op::Equals, {value.get<std::string>()}});
    }
  }
  if (selector.contains("matchExpressions") && !selector["matchExpressions"].is_null()) {
    const Json& exprs = selector["matchExpressions"];
    if (!exprs.is_array()) return fail(ErrorKind::InvalidArgument, "matchExpressions must be a list");
    for (const auto& expr : exprs) {
      DH_TRY(r, expression_requirement(expr));
      s.requirements_.push_back(std::move(r));
    }
  }
  for (const auto& r : s.requirements_) DH_CHECK(check_requirement_names(r));
  return s;
}

LabelSelector LabelSelector::from_map(const std::map<std::string, std::string>& labels) {
  LabelSelector s;
  for (const auto& [key, value] : labels) s.requirements_.push_back({key, Op::Equals, {value}});
  return s;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  if (matches_nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& r) { return requirement_matches(r, labels); });
}

bool LabelSelector::matches_object(const Json& object) const {
  std::map<std::string, std::string> labels;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    const Json& metadata = object["metadata"];
    if (metadata.contains("labels") && metadata["labels"].is_object()) {
      for (const auto& [key, value] : metadata["labels"].items()) {
        if (value.is_string()) labels.emplace(key, value.get<std::string>());
      }
    }
  }
  return matches(labels);
}

std::string LabelSelector::to_string() const {
  std::vector<const Requirement*> sorted;
  for (const auto& r : requirements_) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Requirement* a, const Requirement* b) { return a->key < b->key; });
  std::string out;
  for (const auto* r : sorted) {
    if (!out.empty()) out += ",";
    out += requirement_string(*r);
  }
  return out;
}

// ---- field selectors ----

namespace {

// Splits on ',' not escaped by '\' (escapes stay in the parts).
std::vector<std::string> split_terms(const std::string& text) {
  std::vector<std::string> terms;
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      current += text[i];
      current += text[++i];
    } else if (text[i] == ',') {
      terms.push_back(std::move(current));
      current.clear();
    } else {
      current += text[i];
    }
  }
  terms.push_back(std::move(current));
  return terms;
}

Result<std::string> unescape_value(const std::string& value) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      out += value[i];
      continue;
    }
    if (i + 1 >= value.size() || (value[i + 1] != '\\' && value[i + 1] != ',' && value[i + 1] != '=')) {
      return fail(ErrorKind::InvalidArgument, "invalid field selector: invalid escape sequence in {}",
                  go_quote(value));
    }
    out += value[++i];
  }
  return out;
}

}  // namespace

Result<FieldSelector> FieldSelector::parse(const std::string& text) {
  FieldSelector s;
  for (const auto& term : split_terms(text)) {
    if (term.empty()) continue;
    // The first operator from the left wins; "!=" and "==" before "=" at each position.
    std::size_t at = std::string::npos;
    std::size_t op_len = 0;
    bool equals = true;
    for (std::size_t i = 0; i < term.size() && at == std::string::npos; ++i) {
      auto rest = std::string_view(term).substr(i);
      if (rest.substr(0, 2) == "!=" || rest.substr(0, 2) == "==") {
        at = i;
        op_len = 2;
        equals = rest[0] == '=';
      } else if (rest[0] == '=') {
        at = i;
        op_len = 1;
      }
    }
    if (at == std::string::npos) {
      return fail(ErrorKind::InvalidArgument, "invalid selector: '{}'; can't understand '{}'", text, term);
    }
    DH_TRY(value, unescape_value(term.substr(at + op_len)));
    s.requirements_.push_back({term.substr(0, at), equals, std::move(value)});
  }
  return s;
}

Status FieldSelector::check_supported(const Json& /*sample_object_or_null*/,
                                      const std::vector<std::string>& supported) const {
  for (const auto& r : requirements_) {
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
      return fail(ErrorKind::InvalidArgument, "field label not supported: {}", r.field);
    }
  }
  return {};
}

bool FieldSelector::matches(const Json& object, const FieldGetter& field_value) const {
  for (const auto& r : requirements_) {
    auto value = field_value ? field_value(object, r.field) : std::nullopt;
    if (!value || (*value == r.value) != r.equals) return false;
  }
  return true;
}

// ---- per-resource fields ----

namespace {

struct FieldSet {
  const char* resource;
  std::vector<std::string> fields;
};

const std::vector<FieldSet>& field_sets() {
  static const std::vector<FieldSet> kSets = {
      {"pods",
       {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
        "status.phase", "status.podIP", "status.nominatedNodeName"}},
      {"events",
       {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
        "reportingComponent", "source", "type"}},
      {"nodes", {"spec.unschedulable"}},
      {"namespaces", {"status.phase"}},
      {"secrets", {"type"}},
  };
  return kSets;
}

// The value at a dotted path: strings as they are, booleans as Go's
// FormatBool, absent as "" (or "false" for boolean fields).
std::string value_at(const Json& object, const std::string& path, bool boolean) {
  const Json* at = &object;
  std::size_t start = 0;
  while (true) {
    auto dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(key)) return boolean ? "false" : "";
    at = &(*at)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_boolean()) return at->get<bool>() ? "true" : "false";
  if (at->is_number()) return at->dump();
  return boolean ? "false" : "";
}

}  // namespace

std::vector<std::string> supported_fields(const std::string& resource) {
  std::vector<std::string> fields = {"metadata.name", "metadata.namespace"};
  for (const auto& set : field_sets()) {
    if (resource == set.resource) fields.insert(fields.end(), set.fields.begin(), set.fields.end());
  }
  return fields;
}

std::optional<std::string> standard_field_value(const std::string& resource, const Json& object,
                                                const std::string& field) {
  auto fields = supported_fields(resource);
  if (std::find(fields.begin(), fields.end(), field) == fields.end()) return std::nullopt;
  // Field names that differ from their JSON paths.
  if (resource == "events" && field == "source") return value_at(object, "source.component", false);
  const bool boolean = field == "spec.unschedulable" || field == "spec.hostNetwork";
  return value_at(object, field, boolean);
}

}  // namespace deckhand::api
