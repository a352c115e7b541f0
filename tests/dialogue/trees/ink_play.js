// Compile an Ink file with inkjs and play every path: prints one JSON object
// {errors, paths, ended, unfinished}. Usage: node ink_play.js INKJS_DIR FILE.ink
const path = require("path");
const fs = require("fs");
const { Compiler } = require(path.join(process.argv[2], "compiler", "Compiler.js"));
const source = fs.readFileSync(process.argv[3], "utf8");
const compiler = new Compiler(source);
let story;
try {
  story = compiler.Compile();
} catch (e) {
  console.log(JSON.stringify({ errors: [String(e)], paths: 0, ended: 0, unfinished: 0 }));
  process.exit(0);
}
if (compiler.errors.length) {
  console.log(JSON.stringify({ errors: compiler.errors, paths: 0, ended: 0, unfinished: 0 }));
  process.exit(0);
}
for (const m of source.matchAll(/^EXTERNAL (\w+)\(/gm)) {
  story.BindExternalFunction(m[1], () => null, true);
}
const result = { errors: [], paths: 0, ended: 0, unfinished: 0 };
function walk(state, depth) {
  story.state.LoadJson(state);
  story.ContinueMaximally();
  const choices = story.currentChoices.length;
  if (choices === 0) {
    result.paths += 1;
    if (!story.canContinue) result.ended += 1;
    return;
  }
  if (depth > 60 || result.paths > 20000) { result.unfinished += 1; return; }
  const here = story.state.ToJson();
  for (let i = 0; i < choices; i++) {
    story.state.LoadJson(here);
    story.ContinueMaximally();
    story.ChooseChoiceIndex(i);
    walk(story.state.ToJson(), depth + 1);
  }
}
walk(story.state.ToJson(), 0);
console.log(JSON.stringify(result));
