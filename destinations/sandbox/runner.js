// Runs after the author's code: one call per event, JSON in and out (cheaper than converting
// objects member by member), and RudderStack's rules for what transformEvent returns. The
// answer is the events' JSON array, or "!" and why the result is not events. metadata is
// parsed only if the script asks for it, which most never do. JSON and Array.isArray are the
// prelude's copies, taken before the author's code could redefine them; Python checks the
// answer all the same (script.py).
function __switchyard_run(eventJson, metadataJson, messageId, maxEvents) {
  __switchyard_lines.length = 0;
  let metadata;
  const getMetadata = () => (metadata ??= {...__switchyard_json.parse(metadataJson), messageId});
  const result = transformEvent(__switchyard_json.parse(eventJson), getMetadata);
  if (result === null || result === undefined) return "[]";
  if (typeof result.then === "function") {
    return "!transformEvent returned a Promise: async code has nothing to wait for here";
  }
  const isEvent = (value) => typeof value === "object" && value !== null && !__switchyard_json.isArray(value);
  let events = result;
  if (!__switchyard_json.isArray(result)) {
    if (!isEvent(result)) return "!the value transformEvent returned is not an object";
    events = [result];
  } else if (!result.every(isEvent)) {
    return "!an item of the array transformEvent returned is not an object";
  } else if (result.length > maxEvents) {
    return `!transformEvent returned ${result.length} events; at most ${maxEvents}`;
  }
  try {
    return __switchyard_json.stringify(events);
  } catch (error) {
    return `!the event transformEvent returned is not JSON: ${error.message}`;
  }
}

// What the last call wrote with console.log or log(), for the test page.
function __switchyard_logs() {
  return __switchyard_json.stringify(__switchyard_lines);
}
