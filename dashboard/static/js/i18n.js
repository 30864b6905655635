// Languages of every crowdflow page: Arabic (right to left), French and
// English. Shared by the scanner page, the login page, the live board and,
// later, the reports. Numbers and times always use Western digits
// (CLDR ar_MA uses them too) and a 24-hour clock.

export const LANGS = ['ar', 'fr', 'en'];
const LOCALE = { ar: 'ar-MA', fr: 'fr-MA', en: 'en-GB' };
const NATIVE = { ar: 'العربية', fr: 'Français', en: 'English' };
const KEY = 'cf.lang';

const S = {
  ar: {
    title_scan: 'المسح — crowdflow', title_login: 'الدخول — crowdflow',
    login_title: 'دخول الطاقم', login_token: 'رمز الدخول',
    login_help: 'الصق الرمز الذي سلمه لك المنظمون أو اكتبه.',
    login_submit: 'دخول', login_bad: 'الرمز غير صالح أو انتهت صلاحيته.',
    login_empty: 'اكتب الرمز أولا.', login_offline: 'لا يوجد اتصال بالخادم.',
    logout: 'خروج', gate: 'البوابة', direction: 'الاتجاه', dir_in: 'دخول', dir_out: 'خروج',
    mode: 'الوضع', mode_tickets: 'تذاكر', mode_tally: 'عدّ',
    code_label: 'رمز التذكرة', code_placeholder: 'امسح تذكرة…', code_submit: 'إرسال',
    layout_hint: 'لوحة المفاتيح ليست على الإنجليزية (US): المسح يعمل، لكن غيّرها إلى US.',
    camera_start: 'الكاميرا', camera_stop: 'إيقاف الكاميرا', torch: 'الإضاءة',
    camera_insecure: 'الكاميرا تتطلب اتصالا آمنا (https).',
    camera_denied: 'تعذر فتح الكاميرا.', camera_loading: 'جار تحميل القارئ…',
    camera_ready: 'وجّه الكاميرا نحو رمز التذكرة.',
    online: 'متصل', offline: 'غير متصل', connecting: 'جار الاتصال…',
    queued: 'في الانتظار', inside: 'بالداخل', updated_at: 'تحديث {time}',
    tally_in: 'شخص دخل', tally_out: 'شخص خرج',
    tally_help: 'عدّ الأشخاص بدون تذكرة في: {zone}',
    tally_saved: 'محفوظ دون اتصال', tally_counted: 'تم العدّ',
    tap: 'المس الشاشة للمتابعة', no_scan_role: 'هذا الرمز لا يسمح بالمسح.',
    no_gate: 'لا توجد بوابة مسموحة لهذا الرمز.', loading: 'جار التحميل…',
    uploaded: 'أرسلت {n} عمليات محفوظة', offline_later: 'سيرسل عند عودة الاتصال.',
    sig_ok: 'توقيع التذكرة صحيح.', sig_unchecked: 'لم يتم التحقق من التذكرة.',
    replayed: 'مسح مكرر: النتيجة الأولى.', retry: 'الخادم لا يجيب: سيعاد الإرسال.',
  },
  fr: {
    title_scan: 'Scan — crowdflow', title_login: 'Connexion — crowdflow',
    login_title: 'Connexion du personnel', login_token: "Jeton d'accès",
    login_help: "Collez ou tapez le jeton remis par l'organisation.",
    login_submit: 'Se connecter', login_bad: 'Jeton invalide ou expiré.',
    login_empty: "Saisissez d'abord le jeton.", login_offline: 'Pas de connexion au serveur.',
    logout: 'Déconnexion', gate: 'Porte', direction: 'Sens', dir_in: 'Entrée', dir_out: 'Sortie',
    mode: 'Mode', mode_tickets: 'Billets', mode_tally: 'Comptage',
    code_label: 'Code du billet', code_placeholder: 'Scannez un billet…', code_submit: 'Envoyer',
    layout_hint: "Le clavier n'est pas en anglais (US) : le scan passe, mais mettez-le en US.",
    camera_start: 'Caméra', camera_stop: 'Arrêter la caméra', torch: 'Lampe',
    camera_insecure: 'La caméra exige une connexion sécurisée (https).',
    camera_denied: "Impossible d'ouvrir la caméra.", camera_loading: 'Chargement du lecteur…',
    camera_ready: 'Visez le code du billet.',
    online: 'En ligne', offline: 'Hors ligne', connecting: 'Connexion…',
    queued: 'en attente', inside: 'présents', updated_at: 'à {time}',
    tally_in: 'Une personne entre', tally_out: 'Une personne sort',
    tally_help: 'Comptage des personnes sans billet : {zone}',
    tally_saved: 'Enregistré hors ligne', tally_counted: 'Compté',
    tap: "Touchez l'écran pour continuer", no_scan_role: 'Ce jeton ne permet pas de scanner.',
    no_gate: "Aucune porte n'est autorisée pour ce jeton.", loading: 'Chargement…',
    uploaded: '{n} scans hors ligne envoyés', offline_later: 'Sera envoyé au retour du réseau.',
    sig_ok: 'Signature du billet valide.', sig_unchecked: 'Billet non vérifié.',
    replayed: 'Scan répété : premier verdict.', retry: 'Le serveur ne répond pas : nouvel envoi plus tard.',
  },
  en: {
    title_scan: 'Scan — crowdflow', title_login: 'Log in — crowdflow',
    login_title: 'Staff login', login_token: 'Access token',
    login_help: 'Paste or type the token the organisers gave you.',
    login_submit: 'Log in', login_bad: 'The token is not valid or has expired.',
    login_empty: 'Enter the token first.', login_offline: 'Cannot reach the server.',
    logout: 'Log out', gate: 'Gate', direction: 'Direction', dir_in: 'In', dir_out: 'Out',
    mode: 'Mode', mode_tickets: 'Tickets', mode_tally: 'Tally',
    code_label: 'Ticket code', code_placeholder: 'Scan a ticket…', code_submit: 'Send',
    layout_hint: 'The keyboard is not set to English (US): scans still work, but switch it to US.',
    camera_start: 'Camera', camera_stop: 'Stop camera', torch: 'Torch',
    camera_insecure: 'The camera needs a secure connection (https).',
    camera_denied: 'Cannot open the camera.', camera_loading: 'Loading the reader…',
    camera_ready: 'Point the camera at the ticket code.',
    online: 'Online', offline: 'Offline', connecting: 'Connecting…',
    queued: 'queued', inside: 'inside', updated_at: 'at {time}',
    tally_in: 'One person in', tally_out: 'One person out',
    tally_help: 'Counting people without a ticket: {zone}',
    tally_saved: 'Saved offline', tally_counted: 'Counted',
    tap: 'Tap to continue', no_scan_role: 'This token may not scan.',
    no_gate: 'No gate is allowed for this token.', loading: 'Loading…',
    uploaded: '{n} offline scans uploaded', offline_later: 'Will be sent when the network is back.',
    sig_ok: 'Ticket signature valid.', sig_unchecked: 'Ticket not checked.',
    replayed: 'Repeated scan: the first verdict.', retry: 'The server does not answer: will resend.',
  },
};

// The live board's strings (security's control room), kept apart from the
// scanner's for readability; the same table.
Object.assign(S.ar, {
  title_board: 'اللوحة المباشرة — crowdflow', view: 'العرض', view_live: 'مباشر', view_evacuation: 'الإخلاء',
  kiosk: 'شاشة كبيرة', stale_title: 'البيانات غير محدثة',
  stale_reconnecting: 'انقطع الاتصال بالخادم: إعادة المحاولة خلال {s} ث.',
  stale_connecting: 'جار إعادة الاتصال بالخادم…', stale_no_data: 'لم تصل بيانات منذ {s} ث.',
  alerts: 'التنبيهات', zones: 'الفضاءات', zone: 'الفضاء',
  in_per_min: 'دخول/د', out_per_min: 'خروج/د', minutes_to_full: 'يمتلئ بعد',
  minutes: '{n} د', mtf_now: 'أقل من 1 د', mtf_far: 'أكثر من 4 س', updated_ago: 'آخر تحديث قبل {s} ث', pct: '{n}%',
  level_ok: 'عادي', level_warn: 'انتباه', level_critical: 'حرج', level_full: 'ممتلئ',
  gates: 'البوابات', gate_online: 'متصلة', gate_offline: 'غير متصلة', gate_silent: 'صامتة',
  at_least: 'على الأقل', at_least_why: 'بوابة تغذي هذا الفضاء غير متصلة أو لديها مسوحات لم تُزامن بعد: العدد الحقيقي قد يكون أكبر.',
  unsynced: '{n} مسح لم يُزامن بعد، أقدمها منذ {m} د',
  scans_per_min: '{n} مسح/د', last_seen: 'آخر مسح {time}', never_seen: 'لا مسح بعد',
  evac_title: 'عدّ الإخلاء', evac_inside: 'ما زالوا بالداخل', evac_by_type: 'حسب نوع التذكرة',
  evac_tally: 'بدون تذكرة (عدّ)', evac_no_types: 'التوزيع حسب نوع التذكرة غير متوفر: المجاميع فقط.',
  alert_level: '{zone}: {level} — {pct}', alert_forecast: '{zone}: يمتلئ خلال {m} د تقريبا',
  alert_silent: 'بوابات صامتة ({n}): {gates}', alert_since: 'منذ {time}', forecast_short: 'يمتلئ خلال {m}\u00a0د تقريبا',
  no_live_role: 'هذا الرمز لا يسمح بمشاهدة اللوحة المباشرة.',
  closed_title: 'أُغلق يوم {day} على الساعة {time}', closed_swept: 'أُخرجوا عند الإغلاق (خرجوا دون مسح عند الخروج): {list}',
  closed_none: 'لم يبق أحد بالداخل عند الإغلاق.', closed_tally: '(+{n} بدون تذكرة)',
});
Object.assign(S.fr, {
  title_board: 'Tableau en direct — crowdflow', view: 'Vue', view_live: 'Direct', view_evacuation: 'Évacuation',
  kiosk: 'Écran mural', stale_title: 'Données périmées',
  stale_reconnecting: 'Connexion au serveur perdue : nouvel essai dans {s} s.',
  stale_connecting: 'Reconnexion au serveur…', stale_no_data: 'Aucune donnée depuis {s} s.',
  alerts: 'Alertes', zones: 'Zones', zone: 'Zone',
  in_per_min: 'entrées/min', out_per_min: 'sorties/min', minutes_to_full: 'plein dans',
  minutes: '{n} min', mtf_now: '< 1 min', mtf_far: '> 4 h', updated_ago: 'mis à jour il y a {s} s', pct: '{n} %',
  level_ok: 'Normal', level_warn: 'Vigilance', level_critical: 'Critique', level_full: 'Complet',
  gates: 'Portes', gate_online: 'En ligne', gate_offline: 'Hors ligne', gate_silent: 'Silencieuse',
  at_least: 'au moins', at_least_why: 'Une porte de cette zone est hors ligne ou garde des scans non synchronisés : le chiffre réel peut être plus haut.',
  unsynced: '{n} scans pas encore synchronisés, le plus ancien il y a {m} min',
  scans_per_min: '{n} scans/min', last_seen: 'dernier scan {time}', never_seen: 'aucun scan',
  evac_title: "Décompte d'évacuation", evac_inside: 'Encore à l’intérieur', evac_by_type: 'Par type de billet',
  evac_tally: 'Sans billet (comptage)', evac_no_types: 'Répartition par type de billet indisponible : totaux seulement.',
  alert_level: '{zone} : {level} — {pct}', alert_forecast: '{zone} : plein dans ≈ {m} min',
  alert_silent: 'Portes silencieuses ({n}) : {gates}', alert_since: 'depuis {time}', forecast_short: 'plein dans ≈\u00a0{m}\u00a0min',
  no_live_role: 'Ce jeton ne donne pas accès au tableau en direct.',
  closed_title: 'Journée du {day} close à {time}', closed_swept: 'Sortis d’office à la fermeture (partis sans scan de sortie) : {list}',
  closed_none: 'Plus personne à l’intérieur à la fermeture.', closed_tally: '(+{n} sans billet)',
});
Object.assign(S.en, {
  title_board: 'Live board — crowdflow', view: 'View', view_live: 'Live', view_evacuation: 'Evacuation',
  kiosk: 'Wall screen', stale_title: 'Data out of date',
  stale_reconnecting: 'Lost the server: trying again in {s} s.',
  stale_connecting: 'Reconnecting to the server…', stale_no_data: 'No data for {s} s.',
  alerts: 'Alerts', zones: 'Zones', zone: 'Zone',
  in_per_min: 'in/min', out_per_min: 'out/min', minutes_to_full: 'full in',
  minutes: '{n} min', mtf_now: '< 1 min', mtf_far: '> 4 h', updated_ago: 'updated {s} s ago', pct: '{n}%',
  level_ok: 'OK', level_warn: 'Warning', level_critical: 'Critical', level_full: 'Full',
  gates: 'Gates', gate_online: 'Online', gate_offline: 'Offline', gate_silent: 'Silent',
  at_least: 'at least', at_least_why: 'A gate that feeds this zone is offline or holds scans not yet synced: the real figure may be higher.',
  unsynced: '{n} scans not yet synced, oldest {m} min',
  scans_per_min: '{n} scans/min', last_seen: 'last scan {time}', never_seen: 'no scan yet',
  evac_title: 'Evacuation headcount', evac_inside: 'Still inside', evac_by_type: 'By ticket type',
  evac_tally: 'Without ticket (tally)', evac_no_types: 'No breakdown by ticket type: totals only.',
  alert_level: '{zone}: {level} — {pct}', alert_forecast: '{zone}: full in ≈ {m} min',
  alert_silent: 'Silent gates ({n}): {gates}', alert_since: 'since {time}', forecast_short: 'full in ≈\u00a0{m}\u00a0min',
  no_live_role: 'This token may not see the live board.',
  closed_title: 'Day of {day} closed at {time}', closed_swept: 'Swept out at closing (left without an exit scan): {list}',
  closed_none: 'Nobody was still inside at closing.', closed_tally: '(+{n} without ticket)',
});

// The headline of each outcome, shown in all three languages at once on the
// result screen: a gate worker reads whichever they read best.
const WORDS = {
  accepted_in: { ar: 'دخول مقبول', fr: 'Entrée acceptée', en: 'Entry accepted' },
  accepted_out: { ar: 'خروج مسجل', fr: 'Sortie enregistrée', en: 'Exit recorded' },
  already_inside: { ar: 'التذكرة بالداخل', fr: "Déjà à l'intérieur", en: 'Already inside' },
  already_used: { ar: 'تذكرة مستعملة', fr: 'Billet déjà utilisé', en: 'Ticket already used' },
  zone_full: { ar: 'الفضاء ممتلئ', fr: 'Zone pleine', en: 'Zone full' },
  invalid_ticket: { ar: 'تذكرة غير صالحة', fr: 'Billet non valable', en: 'Invalid ticket' },
  revoked: { ar: 'تذكرة ملغاة', fr: 'Billet annulé', en: 'Ticket revoked' },
  not_valid_today: { ar: 'غير صالحة اليوم', fr: "Pas valable aujourd'hui", en: 'Not valid today' },
  closed: { ar: 'المعرض مغلق', fr: 'Salon fermé', en: 'Fair closed' },
  no_access: { ar: 'الدخول هنا غير مسموح', fr: 'Accès interdit ici', en: 'No access here' },
  unknown_gate: { ar: 'بوابة غير مسموحة', fr: 'Porte non autorisée', en: 'Gate not allowed' },
  offline: { ar: 'محفوظ دون اتصال', fr: 'Enregistré hors ligne', en: 'Saved offline' },
  unreadable: { ar: 'تعذرت قراءة الرمز', fr: 'Code illisible', en: 'Unreadable code' },
  forbidden: { ar: 'عملية غير مسموحة', fr: 'Action non autorisée', en: 'Not allowed' },
};

// Flags of a verdict (CONTRACT §3), each a reason to look twice.
const FLAGS = {
  not_inside: { ar: 'لم يسجل دخوله', fr: "N'était pas enregistré à l'intérieur", en: 'Was not recorded inside' },
  moved_from_sibling: { ar: 'قادم من فضاء آخر', fr: "Vient d'un autre espace", en: 'Came from another area' },
  implicit_entry: { ar: 'دخوله إلى الموقع لم يسجل', fr: "Entrée sur le site non enregistrée", en: 'Site entry not recorded' },
  offline: { ar: 'مسح دون اتصال', fr: 'Scan hors ligne', en: 'Offline scan' },
  forced: { ar: 'بإذن المشرف', fr: 'Forcé par un superviseur', en: 'Forced by a supervisor' },
  clock_skew: { ar: 'ساعة الجهاز غير مضبوطة', fr: "L'horloge de l'appareil est fausse", en: "The device's clock is wrong" },
  unverified: { ar: 'تذكرة غير متحقق منها', fr: 'Billet non vérifié', en: 'Ticket not verified' },
  clamped: { ar: 'العدّ كان صفرا', fr: 'Le compteur était à zéro', en: 'The count was already zero' },
};

let current = pick();

// pick is the page address's ?lang= (a link or a wall screen that names
// its language, remembered from then on), else the remembered language,
// else the browser's (ar-MA → ar), else Arabic.
function pick() {
  const asked = new URLSearchParams(location.search).get('lang');
  if (LANGS.includes(asked)) {
    try { localStorage.setItem(KEY, asked); } catch { /* storage off */ }
    return asked;
  }
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* storage off */ }
  if (LANGS.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || '']) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'ar';
}

export function lang() { return current; }

// setLang switches the page's language, remembers it, and tells the page
// (event "langchange" on document) so it can redraw what it built itself.
export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  try { localStorage.setItem(KEY, l); } catch { /* storage off */ }
  apply();
  document.dispatchEvent(new CustomEvent('langchange', { detail: l }));
}

// t is the string key in the current language, with {name} placeholders
// filled from vars.
export function t(key, vars = {}) {
  const s = S[current][key] ?? S.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

// tIn is t in another language than the page's.
export function tIn(l, key) { return S[l]?.[key] ?? S.en[key] ?? key; }

// words is the headline of an outcome in every language.
export function words(outcome) { return WORDS[outcome] || WORDS.unreadable; }

// flag is the text of a verdict flag in the current language.
export function flag(f) { return (FLAGS[f] && FLAGS[f][current]) || f; }

// name picks the current language from a {ar, fr, en} name of the event file.
export function name(n, fallback = '') {
  if (!n) return fallback;
  return n[current] || n.fr || n.en || n.ar || fallback;
}

// num formats a count: Western digits, no grouping (a count at a gate is
// read at a glance, and "2.400" would read as two point four).
// opts are more Intl.NumberFormat options (maximumFractionDigits for a rate).
export function num(n, opts = {}) {
  return new Intl.NumberFormat(LOCALE[current] + '-u-nu-latn', { useGrouping: false, ...opts }).format(n);
}

// time formats a moment as HH:mm, 24-hour, Western digits, in timeZone
// (the event's) when given.
export function time(d, timeZone) {
  const opts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', numberingSystem: 'latn' };
  if (timeZone) opts.timeZone = timeZone;
  try {
    return new Intl.DateTimeFormat(LOCALE[current], opts).format(d);
  } catch {
    delete opts.timeZone;
    return new Intl.DateTimeFormat(LOCALE[current], opts).format(d);
  }
}

// dayName formats an event day, "2025-09-17", as its day and month in the
// current language, Western digits.
export function dayName(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Intl.DateTimeFormat(LOCALE[current], { day: 'numeric', month: 'long', timeZone: 'UTC', numberingSystem: 'latn' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

// apply sets the document's language and direction and fills every element
// marked data-i18n (text), data-i18n-placeholder, data-i18n-label
// (aria-label) and data-i18n-title.
export function apply(root = document) {
  const html = document.documentElement;
  html.lang = LOCALE[current];
  html.dir = current === 'ar' ? 'rtl' : 'ltr';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  const title = html.dataset.i18nTitle;
  if (title) document.title = t(title);
  for (const b of document.querySelectorAll('.langs button')) {
    b.setAttribute('aria-pressed', String(b.value === current));
  }
}

// langSwitcher fills el with one button per language, each named in its
// own language.
export function langSwitcher(el) {
  el.classList.add('langs');
  for (const l of LANGS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.value = l;
    b.lang = LOCALE[l];
    b.textContent = NATIVE[l];
    b.addEventListener('click', () => setLang(l));
    el.append(b);
  }
  apply();
}
