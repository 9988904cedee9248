'use strict';
/*
 * Loaded with `node -r preload.js` before the real SOAJS gateway (soajs.controller).
 *
 * 1. Replaces the MongoDB connector class of soajs.core.modules (`soajs.mongo/index.js`,
 *    every installed copy) with an in-memory store seeded from the JSON file named by
 *    SOAJS_INTEROP_SEED: {"tenants": [...], "products": [...]} (keys starting with "_"
 *    are comments). The gateway's own provision model then reads tenants, keys and
 *    packages from it, decrypts external keys, checks ACLs and builds soajsinjectobj.
 * 2. In solo mode (SOAJS_SOLO=true) the provision model is `provision/local.js`, a stub
 *    that knows no tenant at all; it is swapped for the Mongo-backed `provision/mongo.js`
 *    so the store above is used. The registry itself still comes from SOAJS_PROFILE.
 * 3. Forces every listen() without an explicit host onto 127.0.0.1 (the gateway listens
 *    on all interfaces otherwise).
 * 4. In solo mode the registry model (`modules/registry/local.js`) drops what `/register`
 *    hands to the marketplace (`registerNewService` is a no-op). The call is kept: its
 *    service object (with `versions[].apis`, the registered apiList) is stored in the
 *    in-memory `marketplace` collection and, when SOAJS_INTEROP_MARKETPLACE names a
 *    file, written there as JSON, so a test can read back what the gateway would store.
 *
 * Nothing here touches the network beyond loopback; nothing is written to disk but the
 * SOAJS_INTEROP_MARKETPLACE file.
 */

const Module = require('module');
const net = require('net');
const fs = require('fs');
const path = require('path');

const LOOPBACK = process.env.SOAJS_INTEROP_LISTEN_HOST || '127.0.0.1';
const SEED = process.env.SOAJS_INTEROP_SEED || '';

function note(msg) {
	process.stderr.write('[interop-preload] ' + msg + '\n');
}

// ---------------------------------------------------------------- loopback only
const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
	if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
		if (typeof args[1] !== 'string') {
			args.splice(1, 0, LOOPBACK);
		}
	} else if (args[0] && typeof args[0] === 'object' && !(args[0] instanceof net.Server) &&
		args[0].port !== undefined && !args[0].host && !args[0].path) {
		args[0] = Object.assign({}, args[0], {host: LOOPBACK});
	}
	return origListen.apply(this, args);
};

// ---------------------------------------------------------------- in-memory store
class FakeObjectId {
	constructor(id) {
		this.id = id === undefined || id === null ? FakeObjectId.next() : String(id);
	}

	static next() {
		FakeObjectId.counter = (FakeObjectId.counter || 0) + 1;
		return (Date.now().toString(16) + FakeObjectId.counter.toString(16)).padStart(24, '0').slice(-24);
	}

	toString() {
		return this.id;
	}

	toHexString() {
		return this.id;
	}

	toJSON() {
		return this.id;
	}

	equals(other) {
		return String(other) === this.id;
	}
}

const collections = {};

function loadSeed() {
	if (!SEED) {
		note('SOAJS_INTEROP_SEED not set: the store starts empty');
		return;
	}
	const data = JSON.parse(fs.readFileSync(SEED, 'utf8'));
	for (const name of Object.keys(data)) {
		if (name.startsWith('_') || !Array.isArray(data[name])) {
			continue;
		}
		collections[name] = data[name].map((doc) => JSON.parse(JSON.stringify(doc)));
	}
	note('store seeded from ' + SEED + ': ' +
		Object.keys(collections).map((c) => c + '=' + collections[c].length).join(', '));
}

loadSeed();

function coll(name) {
	if (!collections[name]) {
		collections[name] = [];
	}
	return collections[name];
}

function valuesAt(doc, dotted) {
	let current = [doc];
	for (const part of dotted.split('.')) {
		const next = [];
		for (const value of current) {
			if (value === null || value === undefined) {
				continue;
			}
			if (Array.isArray(value) && !/^\d+$/.test(part)) {
				for (const item of value) {
					if (item && typeof item === 'object' && part in item) {
						next.push(item[part]);
					}
				}
			} else if (typeof value === 'object' && part in value) {
				next.push(value[part]);
			}
		}
		current = next;
	}
	const flat = [];
	for (const value of current) {
		if (Array.isArray(value)) {
			flat.push(...value);
		}
		flat.push(value);
	}
	return flat;
}

function same(a, b) {
	if (a === b) {
		return true;
	}
	if (a === null || b === null || a === undefined || b === undefined) {
		return false;
	}
	const idLike = (v) => v instanceof FakeObjectId || typeof v === 'string';
	if (idLike(a) && idLike(b)) {
		return String(a) === String(b);
	}
	if (typeof a === 'object' && typeof b === 'object') {
		return JSON.stringify(a) === JSON.stringify(b);
	}
	return false;
}

function matchCondition(values, cond) {
	if (cond && typeof cond === 'object' && !(cond instanceof FakeObjectId) && !Array.isArray(cond) &&
		Object.keys(cond).some((k) => k.startsWith('$'))) {
		return Object.keys(cond).every((op) => {
			const arg = cond[op];
			switch (op) {
				case '$in':
					return values.some((v) => arg.some((a) => same(v, a)));
				case '$nin':
					return !values.some((v) => arg.some((a) => same(v, a)));
				case '$ne':
					return !values.some((v) => same(v, arg));
				case '$exists':
					return (values.length > 0) === !!arg;
				case '$eq':
					return values.some((v) => same(v, arg));
				default:
					note('unsupported query operator ' + op + ': no match');
					return false;
			}
		});
	}
	return values.some((v) => same(v, cond));
}

function matches(doc, filter) {
	return Object.keys(filter || {}).every((key) => {
		if (key === '$and') {
			return filter[key].every((f) => matches(doc, f));
		}
		if (key === '$or') {
			return filter[key].some((f) => matches(doc, f));
		}
		return matchCondition(valuesAt(doc, key), filter[key]);
	});
}

function clone(doc) {
	return doc === null || doc === undefined ? doc : JSON.parse(JSON.stringify(doc));
}

function applyUpdate(doc, update) {
	const ops = Object.keys(update || {}).some((k) => k.startsWith('$')) ? update : {$set: update};
	for (const [op, fields] of Object.entries(ops)) {
		for (const [key, value] of Object.entries(fields || {})) {
			const parts = key.split('.');
			let target = doc;
			for (const part of parts.slice(0, -1)) {
				if (!target[part] || typeof target[part] !== 'object') {
					target[part] = {};
				}
				target = target[part];
			}
			const last = parts[parts.length - 1];
			if (op === '$set' || op === '$setOnInsert') {
				target[last] = clone(value);
			} else if (op === '$inc') {
				target[last] = (target[last] || 0) + value;
			} else if (op === '$unset') {
				delete target[last];
			} else if (op === '$push') {
				(target[last] = target[last] || []).push(clone(value));
			}
		}
	}
}

// Every method takes (collection, ...args, [cb]) like the real driver, answers through
// the callback when there is one and returns a promise either way.
function answer(args, fn) {
	const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
	let result;
	let error = null;
	try {
		result = fn(args);
	} catch (e) {
		error = e;
	}
	if (cb) {
		setImmediate(() => cb(error, error ? null : result));
		return Promise.resolve(result);
	}
	return error ? Promise.reject(error) : Promise.resolve(result);
}

class InMemoryMongo {
	constructor(dbConfig) {
		this.config = dbConfig;
		this.ObjectId = (id) => new FakeObjectId(id);
		this.mongodb = {ObjectId: FakeObjectId};
	}

	find(collection, ...args) {
		return answer(args, ([filter]) => coll(collection).filter((d) => matches(d, filter)).map(clone));
	}

	findOne(collection, ...args) {
		return answer(args, ([filter]) => clone(coll(collection).find((d) => matches(d, filter)) || null));
	}

	count(collection, ...args) {
		return answer(args, ([filter]) => coll(collection).filter((d) => matches(d, filter)).length);
	}

	countDocuments(collection, ...args) {
		return this.count(collection, ...args);
	}

	insertOne(collection, ...args) {
		return answer(args, ([doc]) => {
			const copy = clone(doc);
			if (copy._id === undefined) {
				copy._id = new FakeObjectId().toString();
			}
			coll(collection).push(copy);
			return {insertedId: copy._id, acknowledged: true};
		});
	}

	insertMany(collection, ...args) {
		return answer(args, ([docs]) => {
			for (const doc of docs) {
				this.insertOne(collection, doc);
			}
			return {insertedCount: docs.length, acknowledged: true};
		});
	}

	updateOne(collection, ...args) {
		return answer(args, ([filter, update, options]) => {
			let doc = coll(collection).find((d) => matches(d, filter));
			if (!doc && options && options.upsert) {
				doc = clone(filter) || {};
				coll(collection).push(doc);
			}
			if (doc) {
				applyUpdate(doc, update);
			}
			return {matchedCount: doc ? 1 : 0, modifiedCount: doc ? 1 : 0, acknowledged: true};
		});
	}

	updateMany(collection, ...args) {
		return answer(args, ([filter, update]) => {
			const docs = coll(collection).filter((d) => matches(d, filter));
			docs.forEach((d) => applyUpdate(d, update));
			return {matchedCount: docs.length, modifiedCount: docs.length, acknowledged: true};
		});
	}

	deleteOne(collection, ...args) {
		return answer(args, ([filter]) => {
			const list = coll(collection);
			const i = list.findIndex((d) => matches(d, filter));
			if (i >= 0) {
				list.splice(i, 1);
			}
			return {deletedCount: i >= 0 ? 1 : 0};
		});
	}

	deleteMany(collection, ...args) {
		return answer(args, ([filter]) => {
			const list = coll(collection);
			const keep = list.filter((d) => !matches(d, filter));
			const deleted = list.length - keep.length;
			collections[collection] = keep;
			return {deletedCount: deleted};
		});
	}

	createIndex(collection, ...args) {
		return answer(args, () => 'index');
	}

	ensureIndex(collection, ...args) {
		return this.createIndex(collection, ...args);
	}

	closeDb() {
		return Promise.resolve();
	}
}

// Anything else the gateway might call answers "nothing", and says so once.
const warned = new Set();
const InMemoryMongoProxy = new Proxy(InMemoryMongo, {
	construct(target, args) {
		const instance = new target(...args);
		return new Proxy(instance, {
			get(obj, prop) {
				if (prop in obj || typeof prop === 'symbol') {
					return obj[prop];
				}
				if (!warned.has(prop)) {
					warned.add(prop);
					note('unimplemented store method ' + String(prop) + ': answering null');
				}
				return (...args) => answer(args, () => null);
			}
		});
	}
});

// ---------------------------------------------------------------- module swaps
const MONGO_INDEX = path.join('soajs.core.modules', 'soajs.mongo', 'index.js');
const PROVISION_LOCAL = path.join('soajs.core.modules', 'soajs.core', 'provision', 'local.js');
const REGISTRY_LOCAL = path.join('soajs.controller', 'modules', 'registry', 'local.js');
const MARKETPLACE_FILE = process.env.SOAJS_INTEROP_MARKETPLACE || '';

function keepMarketplace(model) {
	const original = model.registerNewService;
	model.registerNewService = function (dbConfiguration, serviceObj, collection, cb) {
		try {
			const docs = coll(collection || 'marketplace');
			const copy = JSON.parse(JSON.stringify(serviceObj));
			const at = docs.findIndex((d) => d.name === copy.name);
			if (at === -1) {
				docs.push(copy);
			} else {
				docs[at] = copy;
			}
			if (MARKETPLACE_FILE) {
				fs.writeFileSync(MARKETPLACE_FILE + '.tmp', JSON.stringify(docs));
				fs.renameSync(MARKETPLACE_FILE + '.tmp', MARKETPLACE_FILE);
			}
		} catch (e) {
			note('marketplace not kept: ' + e.message);
		}
		return original.call(this, dbConfiguration, serviceObj, collection, cb);
	};
	return model;
}

const origLoad = Module._load;
Module._load = function (request, parent, isMain) {
	let filename = null;
	try {
		filename = Module._resolveFilename(request, parent, isMain);
	} catch (e) {
		return origLoad.apply(this, arguments);
	}
	if (typeof filename === 'string') {
		if (filename.endsWith(MONGO_INDEX)) {
			return InMemoryMongoProxy;
		}
		if (filename.endsWith(REGISTRY_LOCAL)) {
			const model = origLoad.apply(this, arguments);
			if (!model.__interopKept) {
				keepMarketplace(model);
				model.__interopKept = true;
			}
			return model;
		}
		if (filename.endsWith(PROVISION_LOCAL)) {
			note('solo provision model swapped for the store-backed one (' + path.dirname(filename) + ')');
			return origLoad.call(this, path.join(path.dirname(filename), 'mongo.js'), parent, isMain);
		}
	}
	return origLoad.apply(this, arguments);
};

module.exports = {InMemoryMongo, FakeObjectId, collections};
