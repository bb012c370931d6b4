import * as fs from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';

/** The one-time sign-in link's file (AUTH_SIGN_IN_LINK_FILE): read at each use, deleted to redeem it. */
@Injectable()
export class SignInLinkRepository {
  constructor(@Inject(AUTH_CONFIG) private readonly config: AuthConfig) {}

  get enabled(): boolean {
    return this.config.AUTH_SIGN_IN_LINK_FILE !== undefined;
  }

  /** The file's text; undefined when there is none (never issued, or already redeemed). */
  read(): string | undefined {
    const file = this.config.AUTH_SIGN_IN_LINK_FILE;
    if (!file) return undefined;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Deletes the file; only the first of two requests redeeming the same link gets true. */
  claim(): boolean {
    try {
      fs.unlinkSync(this.config.AUTH_SIGN_IN_LINK_FILE!);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}
