// Runs after the author's code: one call per event, JSON in and out (cheaper than converting
// objects member by member), and RudderStack's rules for what transformEvent returns.
function __switchyard_run(eventJson, metadataJson, maxEvents) {
  __switchyard_lines.length = 0;
  const metadata = JSON.parse(metadataJson);
  const result = transformEvent(JSON.parse(eventJson), () => metadata);
  const answer = (fields) => JSON.stringify({...fields, logs: __switchyard_lines});
  const problem = (text) => answer({problem: text});
  if (result === null || result === undefined) return answer({events: []});
  if (typeof result.then === "function") {
    return problem("transformEvent returned a Promise: async code has nothing to wait for here");
  }
  const isEvent = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  if (!Array.isArray(result)) {
    if (!isEvent(result)) return problem("the value transformEvent returned is not an object");
    return __switchyard_answer(answer, [result]);
  }
  if (!result.every(isEvent)) {
    return problem("an item of the array transformEvent returned is not an object");
  }
  if (result.length > maxEvents) {
    return problem(`transformEvent returned ${result.length} events; at most ${maxEvents}`);
  }
  return __switchyard_answer(answer, result);
}

function __switchyard_answer(answer, events) {
  try {
    return answer({events});
  } catch (error) {
    return answer({problem: `the event transformEvent returned is not JSON: ${error.message}`});
  }
}
