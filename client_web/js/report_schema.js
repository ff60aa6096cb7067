// The structured report and the consent it carries (docs/PROTOCOL.md, "Report schema"), a
// behavioural mirror of crypto/report.py: the same fields, checked in the same order, so both
// sides refuse the same value with the same `code` and `path` (tests/vectors/report.json).
// The page calls parseReport on what it is about to seal and refuses to send what fails.
import { ProtocolError } from './errors.js';

const { freeze } = Object;

export const SCHEMA = 'quietline.report/2';

// ISO 3166-1 alpha-2, plus XK (Kosovo, a user-assigned code the UN system also uses).
export const COUNTRIES = freeze(`
  AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
  BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
  DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
  GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
  KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
  MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
  PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
  SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
  VN VU WF WS XK YE YT ZA ZM ZW`.trim().split(/\s+/));

// Each value a stable code; the page shows them through its language catalogues.
export const ENGAGEMENTS = freeze(['cooperated', 'sought_to_cooperate']);
export const UN_BODIES = freeze([
  'hrc_session', 'upr', 'special_procedure', 'country_visit', 'treaty_body', 'ohchr_field_presence',
  'un_country_team', 'peace_mission', 'other',
]);
export const TIMINGS = freeze([
  'before_travel', 'while_travelling', 'during_session', 'after_returning', 'during_country_visit',
  'after_country_visit', 'other',
]);
export const REPRISAL_TYPES = freeze([
  'killing', 'physical_attack', 'arbitrary_detention', 'enforced_disappearance', 'raid', 'criminal_prosecution',
  'defamation_charges', 'travel_ban', 'deregistration_funding', 'surveillance', 'online_harassment',
  'smear_campaign', 'threats_to_family', 'intimidation', 'other',
]);
export const PERPETRATORS = freeze([
  'police', 'military', 'intelligence', 'ministry', 'other_state_agent', 'armed_group', 'company',
  'community_religious', 'civil_society', 'unknown', 'other',
]);
export const RELATIONS = freeze(['self', 'relative', 'colleague', 'organisation', 'other']);
export const REPORTER_ROLES = freeze(['victim', 'witness', 'intermediary']);
export const URGENCIES = freeze(['detained', 'missing', 'imminent_threat', 'upcoming_date']);
export const GROUPS = freeze([
  'whrd', 'lgbti', 'indigenous', 'minority', 'journalist', 'environment_land', 'migrant', 'disability', 'youth',
  'trade_union', 'other',
]);
export const REMEDIES = freeze(['yes', 'no', 'not_possible']);

export const YES_NO = freeze(['yes', 'no']);
export const STATE_ACTIONS = freeze(['none', 'private', 'public']);
export const SG_REPORT = freeze(['named', 'anonymised', 'none']);
export const REFERRAL_KINDS = freeze(['national_protection', 'nhri', 'unhcr', 'un_bodies', 'ngos', 'lawyers']);

export const MAX_AFFECTED = 50;
// Limits in Unicode code points, as Python's len counts them (not UTF-16 units).
export const SHORT = 200;
export const MEDIUM = 1000;
export const LONG = 5000;
export const ACCOUNT = 100000;

const PARTIAL_DATE = /^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$/;
const FULL_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

// crypto.report.SchemaError: `path` names the field (`consent.referral.nhri`,
// `affected.0.relation`; "" for the whole value), the same on both sides.
export class SchemaError extends ProtocolError {
  constructor(code, path, reason) {
    super(code, `${path || '(the whole value)'}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

// Own properties only: "__proto__" or "constructor" in the input are just unknown keys.
const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

// Python's dict: a plain object, never an array, null or a class instance.
function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Python's sorted() on str orders by code point; JavaScript's default sort by UTF-16 unit,
// which differs above U+FFFF. The first unknown key reported must be the same.
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// Python's len: a surrogate pair is one code point, a lone surrogate one too.
function codePoints(text) {
  let n = 0;
  for (const _ of text) n += 1; // eslint-disable-line no-unused-vars
  return n;
}

const join = (path, name) => (path ? `${path}.${name}` : name);

// -- value checks: each (value, path, code) returns the value or throws SchemaError -----------

function text(limit) {
  return (value, path, code) => {
    if (typeof value !== 'string') throw new SchemaError(code, path, 'must be text');
    if (codePoints(value) > limit) throw new SchemaError(code, path, `must be at most ${limit} characters`);
    return value;
  };
}

function choice(options) {
  return (value, path, code) => {
    if (typeof value !== 'string' || !options.includes(value)) {
      throw new SchemaError(code, path, `must be one of ${options.join(', ')}`);
    }
    return value;
  };
}

function choices(options) {
  const one = choice(options);
  return (value, path, code) => {
    if (!Array.isArray(value)) throw new SchemaError(code, path, 'must be a list');
    const seen = [];
    value.forEach((item, i) => {
      one(item, `${path}.${i}`, code);
      if (seen.includes(item)) throw new SchemaError(code, `${path}.${i}`, 'is listed twice');
      seen.push(item);
    });
    return freeze([...value]);
  };
}

function validDay(year, month, day) {
  if (month < 1 || month > 12) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day >= 1 && day <= days;
}

function date(full) {
  const pattern = full ? FULL_DATE : PARTIAL_DATE;
  const shape = full ? 'YYYY-MM-DD' : 'YYYY, YYYY-MM or YYYY-MM-DD';
  return (value, path, code) => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      throw new SchemaError(code, path, `must be a date written ${shape}`);
    }
    const [year, month = 1, day = 1] = value.split('-').map(Number);
    if (year < 1945 || !validDay(year, month, day)) throw new SchemaError(code, path, 'is not a date in the calendar');
    return value;
  };
}

// Unknown keys first (in code point order), then each field in table order. Returns the
// checked values by name; absent fields are left out.
function object(table, value, path, code, required = []) {
  if (!isPlainObject(value)) throw new SchemaError(code, path, 'must be an object');
  const known = new Set(table.map(([name]) => name));
  for (const key of Object.keys(value).sort(byCodePoint)) {
    if (!known.has(key)) throw new SchemaError(code, join(path, key), 'is not a field of this schema');
  }
  const out = {};
  for (const [name, check] of table) {
    const where = join(path, name);
    if (!has(value, name)) {
      if (required.includes(name)) throw new SchemaError(code, where, 'is required');
    } else {
      out[name] = check(value[name], where, code);
    }
  }
  return out;
}

// -- consent --------------------------------------------------------------------------------

// crypto.report.ConsentSet: null is an unanswered question, which every use treats as no.
function consentSet(values = {}) {
  return freeze({
    use_information: values.use_information ?? null,
    use_name: values.use_name ?? null,
    use_media: values.use_media ?? null,
    state_action: values.state_action ?? null,
    sg_report: values.sg_report ?? null,
    referral: freeze({ ...(values.referral ?? {}) }),
  });
}

const REFERRAL_FIELDS = REFERRAL_KINDS.map((kind) => [kind, choice(YES_NO)]);

const CONSENT_FIELDS = [
  ['use_information', choice(YES_NO)],
  ['use_name', choice(YES_NO)],
  ['use_media', choice(YES_NO)],
  ['state_action', choice(STATE_ACTIONS)],
  ['sg_report', choice(SG_REPORT)],
  ['referral', (value, path, code) => object(REFERRAL_FIELDS, value, path, code)],
];

const consent = (value, path, code) => consentSet(object(CONSENT_FIELDS, value, path, code));

// -- the report -----------------------------------------------------------------------------

const PERSON_FIELDS = [['relation', choice(RELATIONS)], ['name', text(SHORT)], ['detail', text(MEDIUM)]];

function affected(value, path, code) {
  if (!Array.isArray(value)) throw new SchemaError(code, path, 'must be a list');
  if (value.length > MAX_AFFECTED) throw new SchemaError(code, path, `must list at most ${MAX_AFFECTED} people`);
  return freeze(value.map((item, i) => {
    const person = object(PERSON_FIELDS, item, `${path}.${i}`, code, ['relation']);
    return freeze({ relation: person.relation, name: person.name ?? '', detail: person.detail ?? '' });
  }));
}

function schema(value, path) {
  if (value !== SCHEMA) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new SchemaError('unsupported_version', path, `report schema ${shown} is not supported`);
  }
  return value;
}

const REPORT_FIELDS = [
  ['schema', schema],
  ['country', choice(COUNTRIES)],
  ['place', text(SHORT)],
  ['date', date(false)],
  ['engagement', choice(ENGAGEMENTS)],
  ['un_bodies', choices(UN_BODIES)],
  ['un_body_detail', text(MEDIUM)],
  ['timing', choices(TIMINGS)],
  ['reprisal_types', choices(REPRISAL_TYPES)],
  ['perpetrators', choices(PERPETRATORS)],
  ['perpetrator_detail', text(MEDIUM)],
  ['reporter_role', choice(REPORTER_ROLES)],
  ['reporter_name', text(SHORT)],
  ['organisation', text(SHORT)],
  ['affected', affected],
  ['urgency', choices(URGENCIES)],
  ['upcoming_date', date(true)],
  ['urgency_detail', text(MEDIUM)],
  ['gender', text(SHORT)],
  ['groups', choices(GROUPS)],
  ['remedies', choice(REMEDIES)],
  ['remedies_outcome', text(LONG)],
  ['text', text(ACCOUNT)],
  ['consent', consent],
  ['victim_consent', consent],
];

// crypto.report.Report's fields and defaults: "" for text, [] for lists, null for choices.
function report(c) {
  return freeze({
    country: c.country,
    place: c.place ?? '',
    date: c.date ?? '',
    engagement: c.engagement ?? null,
    un_bodies: c.un_bodies ?? freeze([]),
    un_body_detail: c.un_body_detail ?? '',
    timing: c.timing ?? freeze([]),
    reprisal_types: c.reprisal_types ?? freeze([]),
    perpetrators: c.perpetrators ?? freeze([]),
    perpetrator_detail: c.perpetrator_detail ?? '',
    reporter_role: c.reporter_role ?? null,
    reporter_name: c.reporter_name ?? '',
    organisation: c.organisation ?? '',
    affected: c.affected ?? freeze([]),
    urgency: c.urgency ?? freeze([]),
    upcoming_date: c.upcoming_date ?? '',
    urgency_detail: c.urgency_detail ?? '',
    gender: c.gender ?? '',
    groups: c.groups ?? freeze([]),
    remedies: c.remedies ?? null,
    remedies_outcome: c.remedies_outcome ?? '',
    text: c.text ?? '',
    consent: c.consent ?? consentSet(),
    victim_consent: c.victim_consent ?? null,
  });
}

// Check a report object (the `report` of a report envelope's body) and return it as a frozen
// plain object. Throws SchemaError('bad_report', path, …) or ('unsupported_version', 'schema').
export function parseReport(value) {
  // The schema is looked at first, so a report of another version says so, whatever it holds.
  if (isPlainObject(value) && has(value, 'schema')) schema(value.schema, 'schema');
  const checked = object(REPORT_FIELDS, value, '', 'bad_report', ['schema', 'country']);
  // An intermediary records the victim's own consent apart from their own; nobody else does.
  if (has(checked, 'victim_consent') && checked.reporter_role !== 'intermediary') {
    throw new SchemaError('bad_report', 'victim_consent', 'is given only when the reporter is an intermediary');
  }
  return report(checked);
}

// -- follow-ups -----------------------------------------------------------------------------

const unchecked = (value) => value; // checked by the envelope reader, or with the uploads

function isTrue(value, path, code) {
  if (value !== true) throw new SchemaError(code, path, 'must be true when present');
  return true;
}

const FOLLOWUP_FIELDS = [
  ['v', unchecked],
  ['kind', unchecked],
  ['case_id', unchecked],
  ['id', unchecked],
  ['day', unchecked],
  ['text', text(ACCOUNT)],
  ['attachments', unchecked],
  ['consent', consent],
  ['victim_consent', consent],
  ['withdraw', isTrue],
];

// Check a follow-up body's fields; returns {consent, victim_consent, withdraw} (null for a
// consent the follow-up does not change). Throws SchemaError('bad_followup', path, …).
export function parseFollowupUpdate(body) {
  const checked = object(FOLLOWUP_FIELDS, body, '', 'bad_followup', ['text']);
  return freeze({
    consent: checked.consent ?? null,
    victim_consent: checked.victim_consent ?? null,
    withdraw: checked.withdraw ?? false,
  });
}
