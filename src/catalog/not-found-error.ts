import { WhaleidError } from '../util/errors.js';

/** A catalog lookup that found nothing: the service answers 404. */
export class NotFoundError extends WhaleidError {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}
