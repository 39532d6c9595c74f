/**
 * The running sandbox as `sgpods explain` and the dashboard read it: the cloud's committed state
 * (its SQLite database, opened read-only) as the evaluator's world, the VPC resolver's names, and
 * a client of the API server. A long-lived reader calls `refresh()`, which rebuilds the world only
 * when another connection committed since (SQLite's `data_version`), so a query costs no reload.
 */
import Database from 'better-sqlite3';
import type { KubeHttpClient } from '../../adapters/kube/kube-http-client.js';
import type { IpAddress } from '../../core/net/ip-address.js';
import type { World } from '../../core/sg/world.js';
import { StateDirectory } from '../../servers/cloud/link-local/state-directory.js';
import { Ec2Store } from '../../servers/cloud/state/ec2-store.js';
import { worldOfStore } from '../../servers/cloud/state/store-world.js';
import { interfaceLabel } from '../format/explanation-sentences.js';

export class LiveWorld {
  #world: World;
  #version: number;
  readonly #database: Database.Database;
  readonly store: Ec2Store;
  readonly directory: StateDirectory;

  constructor(
    databasePath: string,
    readonly kube: KubeHttpClient,
  ) {
    this.#database = new Database(databasePath, { readonly: true, fileMustExist: true });
    this.#database.pragma('busy_timeout = 5000');
    this.store = new Ec2Store(this.#database);
    this.#version = this.#dataVersion();
    this.#world = worldOfStore(this.store);
    this.directory = new StateDirectory(databasePath, '');
  }

  get world(): World {
    return this.#world;
  }

  #dataVersion(): number {
    return Number(this.#database.pragma('data_version', { simple: true }));
  }

  /** Rebuilds the world if the cloud committed since the last build; true when it did. */
  refresh(): boolean {
    const version = this.#dataVersion();
    if (version === this.#version) return false;
    this.#version = version;
    this.#world = worldOfStore(this.store);
    return true;
  }

  close(): void {
    this.directory.close();
    this.#database.close();
    this.kube.close();
  }

  /** `eni-… "description", groups sg-… (NAME)`. */
  interfaceText(address: IpAddress): string {
    const eni = this.#world.interfaceAt(address);
    return eni ? interfaceLabel(this.#world, eni) : `${address.text} is on no interface of the VPC`;
  }
}
