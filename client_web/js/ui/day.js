// Only the day is ever recorded, in UTC: never a time that could be matched to traffic.
export function today() {
  return new Date().toISOString().slice(0, 10);
}
