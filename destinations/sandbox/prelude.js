// Runs before the author's code. console.log and RudderStack's log() write to a capped list
// that the test page shows; what QuickJS has beyond the language (a microtask queue,
// performance, shared memory, weak references) goes, so the sandbox holds the language and
// JSON only.
(() => {
  const MAX_LINES = 200;
  const MAX_CHARS = 2000;
  const lines = [];
  const show = (value) => {
    if (typeof value === "string") return value;
    try {
      const text = json.stringify(value);
      return text === undefined ? String(value) : text;
    } catch (error) {
      return String(value);
    }
  };
  const write = (...values) => {
    if (lines.length < MAX_LINES) lines.push(values.map(show).join(" ").slice(0, MAX_CHARS));
  };
  const extras = ["queueMicrotask", "performance", "SharedArrayBuffer", "Atomics", "WeakRef",
                  "FinalizationRegistry"];
  for (const name of extras) delete globalThis[name];
  const console = Object.freeze({log: write, info: write, warn: write, error: write, debug: write});
  Object.defineProperty(globalThis, "console", {value: console});
  Object.defineProperty(globalThis, "log", {value: write, writable: true});
  Object.defineProperty(globalThis, "__switchyard_lines", {value: lines});
  // The runner's own JSON, out of the author's reach (neither writable nor configurable).
  const json = Object.freeze(
    {parse: JSON.parse, stringify: JSON.stringify, isArray: Array.isArray});
  Object.defineProperty(globalThis, "__switchyard_json", {value: json});
})();
