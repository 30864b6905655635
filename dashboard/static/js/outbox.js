// The outbox: every scan and tally is written here BEFORE it is sent, and
// deleted when its verdict arrives, so a scan the gateway has not answered
// survives a dropped network, a closed tab or a dead battery, and is
// uploaded later with its own id and time (the gateway counts an id once).

const DB = 'crowdflow';
const STORE = 'outbox';

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class Outbox {
  // open opens (or creates) the database.
  static async open() {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => {
      const store = r.result.createObjectStore(STORE, { keyPath: 'id' });
      store.createIndex('seq', 'seq');
    };
    return new Outbox(await request(r));
  }

  constructor(db) {
    this.db = db;
    this.seq = Date.now() * 1000;
  }

  // add stores one message ({type: 'scan' | 'tally', id, ...}); it resolves
  // once the write is durable (the transaction completed).
  add(msg) {
    const item = { id: msg.id, seq: this.seq++, msg };
    return this.write((s) => s.put(item)).then(() => item);
  }

  // decide records the verdict the worker was shown offline (decided), so
  // the upload carries it and it stands: the person went through, or not.
  async decide(id, code) {
    const item = await this.get(id);
    if (!item) return;
    item.msg = { ...item.msg, decided: code };
    await this.write((s) => s.put(item));
  }

  // renew moves a message to a new id, in its place in the queue and in one
  // transaction (never both ids, never neither): the gateway refused its id
  // as used before for another scan (id_conflict). It resolves to the
  // renewed item, or null when the id is no longer here.
  async renew(id, newId) {
    let renewed = null;
    await this.write((s) => {
      const r = s.get(id);
      r.onsuccess = () => {
        const item = r.result;
        if (!item) return;
        renewed = { ...item, id: newId, msg: { ...item.msg, id: newId } };
        s.delete(id);
        s.put(renewed);
      };
    });
    return renewed;
  }

  get(id) {
    return request(this.db.transaction(STORE).objectStore(STORE).get(id));
  }

  remove(id) {
    return this.write((s) => s.delete(id));
  }

  // queue returns how many messages wait and the time of the first one
  // taken (the seq index is the order they were taken in, which follows the
  // clock): two reads that do not grow with the outbox, as a page that has
  // been offline for hours recounts at every scan and every verdict.
  async queue() {
    const s = this.db.transaction(STORE).objectStore(STORE);
    const [queued, first] = await Promise.all([request(s.count()), request(s.index('seq').get(IDBKeyRange.lowerBound(-Infinity)))]);
    return { queued, oldest: first?.msg?.at || '' };
  }

  // all returns the waiting messages, oldest first.
  all() {
    return request(this.db.transaction(STORE).objectStore(STORE).index('seq').getAll());
  }

  write(fn) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
      fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
}
