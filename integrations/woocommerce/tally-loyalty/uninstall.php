<?php
/**
 * Removing the plugin forgets its settings. The webhooks it made stay until "Disconnect" (or
 * WooCommerce → Settings → Advanced → Webhooks) removes them: uninstalling cannot reach Tally
 * reliably, and a store that reinstalls keeps reporting in the meantime.
 *
 * @package TallyLoyalty
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'tally_loyalty_settings' );
