// The text catalog's message format (core/texts.py) in the browser: {name}, and
// {n, plural, =0 {...} one {...} two {...} other {# ...}} with the language's plural forms
// (Intl.PluralRules). One copy for both pages: the web channel puts it into widget.js, and
// the console loads it before console.js.
const kesherMessageFormat = (() => {
  const NAME_RE = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*/y;
  const SELECTOR_RE = /\s*(=\d+|zero|one|two|few|many|other)\s*/y;
  const SPACE_RE = /\s*/y;
  const parsedTexts = Object.create(null);
  const pluralRules = Object.create(null);

  function parseText(text) {
    let pos = 0;
    const fail = (why) => new Error(`${why} at character ${pos + 1} of ${JSON.stringify(text)}`);
    const match = (re) => {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m) {
        pos = re.lastIndex;
      }
      return m;
    };
    function nodes(inPlural) {
      const out = [];
      let chunk = "";
      const flush = () => {
        if (chunk) {
          out.push(chunk);
          chunk = "";
        }
      };
      while (pos < text.length) {
        const c = text[pos];
        if (c === "}") {
          if (!inPlural) {
            throw fail("a '}' without its '{'");
          }
          break;
        }
        if (c === "{") {
          flush();
          out.push(argument());
        } else if (c === "#" && inPlural) {
          flush();
          out.push({ pound: true });
          pos += 1;
        } else {
          chunk += c;
          pos += 1;
        }
      }
      flush();
      return out;
    }
    function argument() {
      pos += 1;
      const name = match(NAME_RE);
      if (!name) {
        throw fail("an argument needs a name");
      }
      if (text[pos] === "}") {
        pos += 1;
        return { arg: name[1] };
      }
      let kind = null;
      if (text[pos] === ",") {
        pos += 1;
        kind = match(NAME_RE);
      }
      if (!kind || kind[1] !== "plural" || text[pos] !== ",") {
        throw fail("the only argument type is plural");
      }
      pos += 1;
      const branches = {};
      let selector;
      while ((selector = match(SELECTOR_RE))) {
        if (text[pos] !== "{") {
          throw fail("a plural branch needs {...}");
        }
        pos += 1;
        branches[selector[1]] = nodes(true);
        if (text[pos] !== "}") {
          throw fail("a plural branch is not closed");
        }
        pos += 1;
      }
      match(SPACE_RE);
      if (text[pos] !== "}" || !branches.other) {
        throw fail("a plural needs an 'other' branch and a '}'");
      }
      pos += 1;
      return { plural: name[1], branches };
    }
    return nodes(false);
  }

  // In Hebrew each {name} value is a first-strong isolate (FSI … PDI), as core/bidi.py does on the server:
  // a Latin name or a reference keeps the line right to left.
  function isolate(value, language) {
    // Hebrew-only values need no isolate; a Latin name, a reference, an address or a number does.
    const needs = /[^\P{L}\u0590-\u05ff]|\p{N}/u.test(value);
    if (language !== "he" || !needs || value.includes("\n") || (value[0] === "\u2068" && value.endsWith("\u2069"))) {
      return value;
    }
    return `\u2068${value}\u2069`;
  }

  function fillText(nodes, values, language, number) {
    let out = "";
    for (const node of nodes) {
      if (typeof node === "string") {
        out += node;
      } else if (node.pound) {
        out += String(number);
      } else if (node.arg) {
        out += node.arg in values ? isolate(String(values[node.arg]), language) : `{${node.arg}}`;
      } else {
        const n = Number(values[node.plural]);
        if (!pluralRules[language]) {
          pluralRules[language] = new Intl.PluralRules(language);
        }
        const branch =
          node.branches[`=${n}`] || node.branches[pluralRules[language].select(n)] || node.branches.other;
        out += fillText(branch, values, language, n);
      }
    }
    return out;
  }

  /** A catalog text with its {arguments} filled in, in ``language``'s plural forms. */
  function format(text, values, language) {
    if (!parsedTexts[text]) {
      parsedTexts[text] = parseText(text);
    }
    return fillText(parsedTexts[text], values || {}, language, 0);
  }

  return { format, parseText, fillText };
})();

// Kesher's one small markup in the browser (core/markup.py is the same grammar for the other
// channels): **bold**, [words](https://...) and bare http(s) addresses. It never goes through
// innerHTML: the text becomes text nodes, <strong> and <a rel="noopener noreferrer"
// target="_blank">, and only an http(s) address becomes a link (a javascript: one stays text).
const kesherMarkup = (() => {
  const TOKEN_RE =
    /\*\*([^\s*](?:[^*\n]*?[^\s*])?)\*\*|\[([^[\]\n]+)\]\(([^()\s]+)\)|(https?:\/\/[^\s<>"')\]\u200e\u200f\u2066-\u2069]+[^\s<>"')\].,;:!?\u200e\u200f\u2066-\u2069])/g;
  const SAFE_URL_RE = /^https?:\/\/[^\s<>"']+$/i;

  function inline(text, bold, out) {
    let last = 0;
    for (const m of text.matchAll(TOKEN_RE)) {
      if (m.index > last) out.push({ text: text.slice(last, m.index), bold, url: null });
      if (m[1] !== undefined && !bold) inline(m[1], true, out);
      else if (m[1] !== undefined) out.push({ text: m[0], bold, url: null });
      else if (m[2] !== undefined) out.push(SAFE_URL_RE.test(m[3]) ? { text: m[2], bold, url: m[3] } : { text: m[0], bold, url: null });
      else out.push({ text: m[4], bold, url: m[4] });
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push({ text: text.slice(last), bold, url: null });
    return out;
  }

  /** A message's segments: [{text, bold, url}], url only ever an http(s) address. */
  function parse(text) {
    return inline(String(text == null ? "" : text), false, []).filter((s) => s.text);
  }

  /** The message as DOM nodes to append: text, <strong>, <a> (LINK_CLASS on links, if given). */
  function nodes(text, linkClass) {
    return parse(text).map((s) => {
      let node = document.createTextNode(s.text);
      if (s.url) {
        const a = document.createElement("a");
        a.href = s.url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        if (linkClass) a.className = linkClass;
        a.append(node);
        node = a;
      }
      if (s.bold) {
        const strong = document.createElement("strong");
        strong.append(node);
        node = strong;
      }
      return node;
    });
  }

  return { parse, nodes };
})();
